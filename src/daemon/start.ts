import { existsSync } from "node:fs";
import packageJson from "../../package.json" with { type: "json" };
import type { AdminOptions } from "../admin/config.ts";
import type { AdminPlane } from "../admin/plane.ts";
import { provisionAdminToken, removeAdminTokenFile, tokenFileAccessOf } from "../admin/token-file.ts";
import type { ClusterNode, ClusterNodeOptions } from "../cluster/node.ts";
import { type ArenaFile, closeFd, reopenReadOnly, residentBytes } from "../ffi/index.ts";
import { createLogger, type Logger } from "../log.ts";
import { PlasmaError } from "../protocol/errors.ts";
import { DEFAULT_MAX_METADATA_BYTES } from "../protocol/limits.ts";
import { DEFAULT_DIRECTORY_CAPACITY } from "../protocol/shared-directory/index.ts";
import { ArenaAccess, arenaAccessMode } from "../store/arena-access.ts";
import {
  closeRegion,
  createDirectoryRegion,
  DEFAULT_STORE_PIN_SLOTS,
  type DirectoryRegion,
  directoryCapacityFor,
} from "../store/directory-regions.ts";
import type { EvictionPolicyName } from "../store/eviction/policy.ts";
import type { StoreLimits } from "../store/limits.ts";
import { type MemoryAccounting, type PreparedArena, prepareArena } from "../store/memory-backing.ts";
import { StoreServer } from "../store/server.ts";
import { StoreCore } from "../store/store.ts";
import {
  DEFAULT_SOCKET_MODE,
  listenPrivately,
  prepareSocketPath,
  removeSocketFile,
  setSocketAccess,
} from "./socket-file.ts";
import { openSpill, startSpillEdge, stopSpillEdge } from "./spill.ts";
import type { SpillConfig } from "./spill-config.ts";

/** The composition root: builds the arena, the core, the socket server and the admin plane, and stops them. */

export const DEFAULT_SOCKET_PATH = "/tmp/plasma";
/** The largest --directory-entries (the directory format's largest capacity, 2^26). */
export const MAX_DIRECTORY_ENTRIES = 2 ** 26;

/** The directory of `entries` objects (rounded up to a power of two), or null for 0 (off). */
function openDirectory(entries: number): DirectoryRegion | null {
  if (entries === 0) return null;
  const generation = crypto.getRandomValues(new Uint32Array(1))[0] as number;
  return createDirectoryRegion(directoryCapacityFor(entries), generation);
}
const packageVersion: string = packageJson.version;

export interface StoreOptions {
  /** Capacity in bytes (what `-m` takes). */
  capacityBytes: number;
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
  /** A connection that has not said Hello this many ms after connecting is closed (default 5000). */
  helloTimeoutMs?: number;
  /**
   * Objects the shared-memory directory has room for (rounded up to a power of two; default
   * DEFAULT_DIRECTORY_CAPACITY); 0 turns directory reads off. See docs/shared-directory.md.
   */
  directoryEntries?: number;
  /**
   * Uids served read-only: an O_RDONLY descriptor, PROT_READ mappings, and create, seal, abort, delete
   * and evict refused (AccessDeniedError). They may connect even when allowUids does not list them.
   */
  readOnlyUids?: readonly number[];
  /** Permissions of the socket file (default 0o600: only the store's user can connect). */
  socketMode?: number;
  /** Gid that owns the socket file (with socketMode 0o660, that group may connect). */
  socketGroup?: number;
  /** The admin plane (gRPC, HTTP); absent: none. The plasma_store CLI turns it on by default. */
  admin?: AdminOptions;
  /** Spill evicted objects to a directory (issue 16); absent: eviction drops them. */
  spill?: SpillConfig;
  /** Join a cluster of stores (--cluster-etcd): directory in etcd, pulls between stores; absent: none. */
  cluster?: ClusterNodeOptions;
  logger?: Logger;
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
  /** This store's part in the cluster, null without --cluster-etcd. */
  readonly cluster: ClusterNode | null;
  /** Stops serving: closes every connection, removes the socket file, unmaps and closes the arena. */
  stop(): Promise<void>;
}

/**
 * Starts a store in this process: arena, core, socket server and (if asked) admin plane. Each part is
 * pushed on one stack as it comes up; a failure unwinds what is up so far, and `stop` unwinds all of it,
 * in reverse: admin plane, socket server and socket file, a turn of the event loop, the arena.
 */
export async function startStore(options: StoreOptions): Promise<StoreHandle> {
  const socketPath = options.socketPath ?? DEFAULT_SOCKET_PATH;
  const socketMode = options.socketMode ?? DEFAULT_SOCKET_MODE;
  const log = options.logger ?? createLogger("plasma_store");
  prepareSocketPath(socketPath, log);
  await using cleanup = new AsyncDisposableStack();

  // Checks the backing (free space, huge pages), reserves it, maps it and prefaults it if asked.
  const prepared = prepareArena(options, log);
  const { arena, address } = prepared;
  let mapped = true;
  cleanup.defer(() => {
    mapped = false;
    prepared.release();
  });
  // The directory, unmapped (like the arena) only after the close callbacks ran.
  const directory = openDirectory(options.directoryEntries ?? DEFAULT_DIRECTORY_CAPACITY);
  if (directory !== null) cleanup.defer(() => closeRegion(directory));
  // Let close callbacks run before the memory goes away.
  cleanup.defer(() => Bun.sleep(0));
  // How the store touches arena bytes without a client being able to kill it, and the read-only fd.
  const arenaIo = openArenaIo(prepared, options.readOnlyUids);
  cleanup.defer(() => arenaIo.close());
  const spillOpened =
    options.spill === undefined
      ? null
      : openSpill(options.spill, log, options.limits?.maxMetadataBytes ?? DEFAULT_MAX_METADATA_BYTES);
  if (spillOpened !== null) cleanup.defer(() => spillOpened.directory.close());
  const core = new StoreCore({
    capacityBytes: options.capacityBytes,
    evictionPolicy: options.evictionPolicy,
    limits: options.limits,
    spill: spillOpened === null ? undefined : { budgetBytes: spillOpened.budgetBytes },
    sharedReads: directory?.sharedReads,
  });
  // Spill files are written from and read into the arena: the edge stops after the server, before the arena.
  const spillEdge = spillOpened === null ? null : startSpillEdge(core, spillOpened, address, log);
  if (spillEdge !== null) {
    const onStop = options.spill?.onStop === true;
    cleanup.defer(() => stopSpillEdge(core, spillEdge, onStop, log));
  }
  let adminPlane: AdminPlane | null = null;
  let clusterNode: ClusterNode | null = null;
  const server = new StoreServer({
    socketPath,
    core,
    arena: {
      fd: arena.fd,
      address,
      sizeBytes: arena.sizeBytes,
      sealed: arena.sealed,
      access: arenaIo.access,
      readOnlyFd: arenaIo.readOnlyFd,
    },
    logger: log,
    allowUids: options.allowUids,
    helloTimeoutMs: options.helloTimeoutMs,
    readOnlyUids: options.readOnlyUids,
    observeLatency: (op, seconds) => adminPlane?.observeLatency(op, seconds),
    spilledDigest: spillEdge === null ? undefined : (key) => spillEdge.digestOf(key),
    cluster: () => clusterNode,
    directoryReads: directory === null ? undefined : { directory, pinSlots: DEFAULT_STORE_PIN_SLOTS },
  });
  listenPrivately(server);
  cleanup.defer(async () => {
    const hashesDone = server.stop();
    removeSocketFile(socketPath);
    await hashesDone;
  });
  setSocketAccess(socketPath, socketMode, options.socketGroup);
  const startTime = Date.now();
  // The cluster (loaded on demand): transfer service, lease and node name, registrations, remote gets.
  if (options.cluster !== undefined) {
    const { ClusterNode } = await import("../cluster/node.ts");
    const node = await ClusterNode.start(options.cluster, { core, access: arenaIo.access, logger: log });
    cleanup.defer(() => node.stop());
    clusterNode = node;
  }
  let adminTokenFile: string | null = null;
  if (options.admin !== undefined) {
    // Readable by whoever may open the socket; the plane stops before the file goes.
    const tokenAccess = tokenFileAccessOf(socketMode, options.socketGroup, options.allowUids);
    const generated = provisionAdminToken(options.admin, socketPath, tokenAccess);
    if (generated !== null) cleanup.defer(() => removeAdminTokenFile(generated.path));
    adminTokenFile = generated?.path ?? null;
    const plane = await startAdmin(
      { ...options.admin, token: generated?.token ?? options.admin.token },
      {
        core,
        log,
        socketPath,
        prepared,
        access: arenaIo.access,
        startTime,
        isMapped: () => mapped,
        tokenFile: generated?.path,
        cluster: clusterNode,
      },
    );
    cleanup.defer(() => plane.stop());
    adminPlane = plane;
  }
  logStarted(log, options, {
    prepared,
    socketPath,
    socketMode,
    core,
    adminPlane,
    adminTokenFile,
    clusterNode,
  });

  const running = cleanup.move();
  let stopped: Promise<void> | null = null;
  return {
    socketPath,
    capacityBytes: options.capacityBytes,
    arena,
    memoryAccounting: () => prepared.accounting(),
    core,
    pid: process.pid,
    startTime,
    admin: { grpcAddress: adminPlane?.grpcAddress ?? null, httpAddress: adminPlane?.httpAddress ?? null },
    cluster: clusterNode,
    stop() {
      stopped ??= running.disposeAsync().then(() => log.info({ socket: socketPath }, "plasma_store stopped"));
      return stopped;
    },
  };
}

interface AdminContext {
  core: StoreCore;
  log: Logger;
  socketPath: string;
  prepared: PreparedArena;
  access: ArenaAccess;
  startTime: number;
  /** False once stop has unmapped the arena. */
  isMapped(): boolean;
  /** The generated token's file, if the store made one up. */
  tokenFile?: string;
  cluster: ClusterNode | null;
}

/** Starts the admin plane over the core and the arena. Loaded on demand: a store without one does not pay for gRPC. */
async function startAdmin(admin: AdminOptions, context: AdminContext): Promise<AdminPlane> {
  const { startAdminPlane } = await import("../admin/plane.ts");
  const { core, log, socketPath, prepared, access, startTime, isMapped, tokenFile, cluster } = context;
  const { arena, address } = prepared;
  return startAdminPlane({
    ...admin,
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
      if (!isMapped()) throw new PlasmaError("The store is stopping; its memory is no longer mapped.");
      return access.read(offset, length);
    },
    residentBytesIn: (offset, length) => (isMapped() ? residentBytes(address + offset, length) : 0),
    memory: () => {
      const accounting = prepared.accounting();
      return {
        reservedBytes: accounting.reservedBytes,
        faultedBytes: isMapped() ? accounting.faultedBytes : 0,
        prefaulted: accounting.prefaulted,
      };
    },
    ready: () => isMapped() && existsSync(socketPath),
    tokenFile,
    ...(cluster === null ? {} : { cluster }),
  });
}

interface ArenaIo {
  access: ArenaAccess;
  /** The read-only descriptor handed to read-only uids; null when there are none. */
  readOnlyFd: number | null;
  close(): void;
}

/** The store's own safe access to the arena and, when read-only uids are configured, a read-only fd. */
function openArenaIo(prepared: PreparedArena, readOnlyUids: readonly number[] | undefined): ArenaIo {
  const { arena, address } = prepared;
  const access = new ArenaAccess({ ...arena, address });
  let readOnlyFd: number | null = null;
  try {
    if (readOnlyUids !== undefined && readOnlyUids.length > 0) readOnlyFd = reopenReadOnly(arena.fd);
  } catch (error) {
    access.close();
    throw error;
  }
  return {
    access,
    readOnlyFd,
    close() {
      access.close();
      if (readOnlyFd !== null) closeFd(readOnlyFd);
      readOnlyFd = null;
    },
  };
}

interface StartedParts {
  prepared: PreparedArena;
  socketPath: string;
  socketMode: number;
  core: StoreCore;
  adminPlane: AdminPlane | null;
  adminTokenFile: string | null;
  clusterNode: ClusterNode | null;
}

function logStarted(log: Logger, options: StoreOptions, parts: StartedParts): void {
  const { prepared, socketPath, socketMode, core, adminPlane, adminTokenFile, clusterNode } = parts;
  const { arena } = prepared;
  log.info(
    {
      capacityBytes: options.capacityBytes,
      arenaBytes: arena.sizeBytes,
      backing: arena.backing,
      directory: arena.path,
      hugePages: arena.hugePages,
      pageSizeBytes: arena.pageSizeBytes,
      reservedBytes: prepared.reservedBytes,
      prefaulted: prepared.prefaulted,
      arenaAccess: arenaAccessMode({ ...arena, address: prepared.address }),
      readOnlyUids: options.readOnlyUids ?? [],
      socket: socketPath,
      socketMode: `0${socketMode.toString(8)}`,
      eviction: core.evictionPolicy,
      maxClientMemoryBytes: core.limits.maxClientMemoryBytes,
      adminGrpc: adminPlane?.grpcAddress ?? null,
      adminHttp: adminPlane?.httpAddress ?? null,
      adminTokenFile,
      ...(clusterNode === null
        ? {}
        : {
            clusterName: clusterNode.clusterName,
            nodeName: clusterNode.nodeName,
            transferAddress: clusterNode.transferAddress,
            etcdEndpoints: clusterNode.etcdEndpoints,
          }),
    },
    "plasma_store started",
  );
}
