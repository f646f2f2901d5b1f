import { chmodSync, chownSync, existsSync, unlinkSync } from "node:fs";
import packageJson from "../../package.json" with { type: "json" };
import type { AdminOptions } from "../admin/config.ts";
import type { AdminPlane } from "../admin/plane.ts";
import { type ArenaFile, closeFd, isSocketListening, unmap, viewOf } from "../ffi/index.ts";
import { createLogger, type Logger } from "../log.ts";
import { PlasmaError } from "../protocol/errors.ts";
import type { EvictionPolicyName } from "./eviction/policy.ts";
import type { StoreLimits } from "./limits.ts";
import { type MemoryAccounting, prepareArena } from "./memory-backing.ts";
import { StoreServer } from "./server.ts";
import { StoreCore } from "./store.ts";

export type { EvictionPolicyName } from "./eviction/policy.ts";
export type { StoreLimits } from "./limits.ts";
export {
  type MemoryAccounting,
  MemoryBackingError,
  type MemoryBackingErrorCode,
} from "./memory-backing.ts";
export { StoreCore } from "./store.ts";

export const DEFAULT_SOCKET_PATH = "/tmp/plasma";
const packageVersion: string = packageJson.version;
/** Socket permissions unless told otherwise: only the store's own user may connect. */
export const DEFAULT_SOCKET_MODE = 0o600;

export interface StoreOptions {
  /** Capacity in bytes (what `-m` takes). */
  memoryBytes: number;
  /** Unix socket path; default /tmp/plasma. */
  socketPath?: string;
  /** Back the arena with an unlinked file in this directory (e.g. /dev/shm, a hugetlbfs mount). */
  directory?: string;
  /** Use 2 MiB huge pages. */
  hugePages?: boolean;
  /** Fault the whole arena in at start-up so clients' first writes pay no allocation faults. */
  prefault?: boolean;
  evictionPolicy?: EvictionPolicyName;
  limits?: Partial<StoreLimits>;
  /** Uids allowed to connect; absent: everyone who can open the socket. */
  allowUids?: readonly number[];
  /** Permissions of the socket file (default 0o600: only the store's user can connect). */
  socketMode?: number;
  /** Gid that owns the socket file (with socketMode 0o660, that group may connect). */
  socketGroup?: number;
  /** The admin plane (gRPC, HTTP); absent: none. The plasma_store CLI turns it on by default. */
  admin?: AdminOptions;
  logger?: Logger;
}

/** The store is already running on the socket path. */
export class StoreAlreadyRunningError extends PlasmaError {
  constructor(socketPath: string) {
    super(
      `Another plasma_store is already listening on ${socketPath}; stop it or pick another socket with -s.`,
      "PLASMA_ERROR",
    );
  }
}

export interface StoreHandle {
  readonly socketPath: string;
  readonly capacityBytes: number;
  readonly arena: Readonly<ArenaFile>;
  /** Backing, page size, reserved and faulted bytes of the arena (faulted is measured now, with mincore). */
  memoryAccounting(): MemoryAccounting;
  readonly core: StoreCore;
  readonly pid: number;
  readonly startTime: number;
  /** Bound admin addresses (HOST:PORT), null when disabled. */
  readonly admin: { readonly grpcAddress: string | null; readonly httpAddress: string | null };
  /** Stops serving: closes every connection, removes the socket file, unmaps and closes the arena. */
  stop(): Promise<void>;
}

/** Starts a store in this process: arena, core and socket server. */
export async function startStore(options: StoreOptions): Promise<StoreHandle> {
  const socketPath = options.socketPath ?? DEFAULT_SOCKET_PATH;
  const log = options.logger ?? createLogger("plasma_store");
  prepareSocketPath(socketPath, log);

  // Checks the backing (free space, huge pages), reserves it, maps it and prefaults it if asked.
  const prepared = prepareArena(
    {
      memoryBytes: options.memoryBytes,
      directory: options.directory,
      hugePages: options.hugePages,
      prefault: options.prefault,
    },
    log,
  );
  const { arena, address } = prepared;
  const core = new StoreCore({
    capacityBytes: options.memoryBytes,
    evictionPolicy: options.evictionPolicy,
    limits: options.limits,
  });
  const server = new StoreServer({
    socketPath,
    core,
    arena: { fd: arena.fd, address, sizeBytes: arena.sizeBytes, sealed: arena.sealed },
    logger: log,
    allowUids: options.allowUids,
    observeLatency: (op, seconds) => adminPlane?.observeLatency(op, seconds),
  });
  try {
    listenWithMode(server, socketPath, options.socketMode ?? DEFAULT_SOCKET_MODE, options.socketGroup);
  } catch (error) {
    unmap(address, arena.sizeBytes);
    closeFd(arena.fd);
    throw error;
  }
  const startTime = Date.now();
  let mapped = true;
  let adminPlane: AdminPlane | null = null;
  if (options.admin !== undefined) {
    try {
      // Loaded on demand: a store without an admin plane does not pay for gRPC.
      const { startAdminPlane } = await import("../admin/plane.ts");
      adminPlane = await startAdminPlane({
        ...options.admin,
        core,
        logger: log,
        version: packageVersion,
        socketPath,
        arena: {
          sizeBytes: arena.sizeBytes,
          backing: arena.backing,
          path: arena.path,
          hugePages: arena.hugePages,
          pageSizeBytes: arena.pageSizeBytes,
        },
        startTimeMs: startTime,
        readArena: (offset, length) => {
          if (!mapped) throw new PlasmaError("The store is stopping; its memory is no longer mapped.");
          return new Uint8Array(viewOf(address, offset, length)).slice();
        },
        memory: () => {
          const accounting = prepared.accounting();
          return {
            reservedBytes: accounting.reservedBytes,
            faultedBytes: mapped ? accounting.faultedBytes : 0,
            prefaulted: accounting.prefaulted,
          };
        },
        ready: () => mapped && existsSync(socketPath),
      });
    } catch (error) {
      server.stop();
      try {
        unlinkSync(socketPath);
      } catch {
        // Already gone.
      }
      unmap(address, arena.sizeBytes);
      closeFd(arena.fd);
      throw error;
    }
  }
  log.info(
    {
      capacityBytes: options.memoryBytes,
      arenaBytes: arena.sizeBytes,
      backing: arena.backing,
      directory: arena.path,
      hugePages: arena.hugePages,
      pageSizeBytes: arena.pageSizeBytes,
      reservedBytes: prepared.reservedBytes,
      prefaulted: prepared.prefaulted,
      socket: socketPath,
      socketMode: `0${(options.socketMode ?? DEFAULT_SOCKET_MODE).toString(8)}`,
      eviction: core.evictionPolicy,
      adminGrpc: adminPlane?.grpcAddress ?? null,
      adminHttp: adminPlane?.httpAddress ?? null,
    },
    "plasma_store started",
  );

  let stopped: Promise<void> | null = null;
  return {
    socketPath,
    capacityBytes: options.memoryBytes,
    arena,
    memoryAccounting: () => prepared.accounting(),
    core,
    pid: process.pid,
    startTime,
    admin: { grpcAddress: adminPlane?.grpcAddress ?? null, httpAddress: adminPlane?.httpAddress ?? null },
    stop() {
      stopped ??= (async () => {
        adminPlane?.stop();
        server.stop();
        try {
          unlinkSync(socketPath);
        } catch {
          // Already gone.
        }
        // Let close callbacks run before the memory goes away.
        await Bun.sleep(0);
        mapped = false;
        unmap(address, arena.sizeBytes);
        closeFd(arena.fd);
        log.info({ socket: socketPath }, "plasma_store stopped");
      })();
      return stopped;
    },
  };
}

/**
 * Creates the socket under a umask that lets nobody but the store's user in, then hands it to the group
 * and widens it to `mode`: there is no moment when the socket is more open than asked.
 */
function listenWithMode(
  server: StoreServer,
  socketPath: string,
  mode: number,
  gid: number | undefined,
): void {
  const previous = process.umask(0o177);
  try {
    server.listen();
  } finally {
    process.umask(previous);
  }
  try {
    if (gid !== undefined) chownSync(socketPath, -1, gid);
    chmodSync(socketPath, mode);
  } catch (error) {
    server.stop();
    try {
      unlinkSync(socketPath);
    } catch {
      // Already gone.
    }
    throw new PlasmaError(
      `Could not set the owner group or mode of socket ${socketPath}: ${(error as Error).message}. Check --socket-group and --socket-mode.`,
    );
  }
}

/** A stale socket file is replaced; a live store on the path is an error. */
function prepareSocketPath(socketPath: string, log: Logger): void {
  if (!existsSync(socketPath)) return;
  if (isSocketListening(socketPath)) throw new StoreAlreadyRunningError(socketPath);
  log.warn({ socket: socketPath }, "removing a stale socket file nobody listens on");
  unlinkSync(socketPath);
}
