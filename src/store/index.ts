import { chmodSync, chownSync, existsSync, unlinkSync } from "node:fs";
import {
  type ArenaFile,
  closeFd,
  createArenaFile,
  isSocketListening,
  mapShared,
  unmap,
} from "../ffi/index.ts";
import { createLogger, type Logger } from "../log.ts";
import { PlasmaError } from "../protocol/errors.ts";
import type { EvictionPolicyName } from "./eviction/policy.ts";
import type { StoreLimits } from "./limits.ts";
import { StoreServer } from "./server.ts";
import { StoreCore } from "./store.ts";

export type { EvictionPolicyName } from "./eviction/policy.ts";
export type { StoreLimits } from "./limits.ts";
export { StoreCore } from "./store.ts";

export const DEFAULT_SOCKET_PATH = "/tmp/plasma";
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
  evictionPolicy?: EvictionPolicyName;
  limits?: Partial<StoreLimits>;
  /** Uids allowed to connect; absent: everyone who can open the socket. */
  allowUids?: readonly number[];
  /** Permissions of the socket file (default 0o600: only the store's user can connect). */
  socketMode?: number;
  /** Gid that owns the socket file (with socketMode 0o660, that group may connect). */
  socketGroup?: number;
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
  readonly core: StoreCore;
  readonly pid: number;
  readonly startTime: number;
  /** Stops serving: closes every connection, removes the socket file, unmaps and closes the arena. */
  stop(): Promise<void>;
}

/** Starts a store in this process: arena, core and socket server. */
export async function startStore(options: StoreOptions): Promise<StoreHandle> {
  const socketPath = options.socketPath ?? DEFAULT_SOCKET_PATH;
  const log = options.logger ?? createLogger("plasma_store");
  prepareSocketPath(socketPath, log);

  const arena = createArenaFile({
    sizeBytes: options.memoryBytes,
    directory: options.directory,
    hugePages: options.hugePages,
    name: "plasma-arena",
  });
  let address = 0;
  try {
    address = mapShared(arena.fd, arena.sizeBytes);
  } catch (error) {
    closeFd(arena.fd);
    throw error;
  }
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
  });
  try {
    listenWithMode(server, socketPath, options.socketMode ?? DEFAULT_SOCKET_MODE, options.socketGroup);
  } catch (error) {
    unmap(address, arena.sizeBytes);
    closeFd(arena.fd);
    throw error;
  }
  log.info(
    {
      capacityBytes: options.memoryBytes,
      arenaBytes: arena.sizeBytes,
      backing: arena.backing,
      directory: arena.path,
      hugePages: arena.hugePages,
      socket: socketPath,
      socketMode: `0${(options.socketMode ?? DEFAULT_SOCKET_MODE).toString(8)}`,
      eviction: core.policy.name,
    },
    "plasma_store started",
  );

  let stopped: Promise<void> | null = null;
  return {
    socketPath,
    capacityBytes: options.memoryBytes,
    arena,
    core,
    pid: process.pid,
    startTime: Date.now(),
    stop() {
      stopped ??= (async () => {
        server.stop();
        try {
          unlinkSync(socketPath);
        } catch {
          // Already gone.
        }
        // Let close callbacks run before the memory goes away.
        await Bun.sleep(0);
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
