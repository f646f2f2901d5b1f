import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  ADMIN_PARSE_OPTIONS,
  DEFAULT_ADMIN_GRPC,
  DEFAULT_ADMIN_HTTP,
  resolveAdminOptions,
} from "../admin/config.ts";
import { parseBytes } from "../cli-support/bytes.ts";
import { UsageError } from "../cli-support/usage-error.ts";
import {
  DEFAULT_MAX_IDS_PER_REQUEST,
  DEFAULT_MAX_METADATA_BYTES,
  MAX_TIMEOUT_MS,
} from "../protocol/limits.ts";
import { EVICTION_POLICY_NAMES, type EvictionPolicyName } from "../store/eviction/policy.ts";
import { MIN_CLIENT_MEMORY_BYTES, type StoreLimits } from "../store/limits.ts";
import {
  CLUSTER_ENV_USAGE,
  CLUSTER_PARSE_OPTIONS,
  CLUSTER_USAGE,
  resolveClusterOptions,
} from "./cluster-config.ts";
import { parseSpillFlags, SPILL_PARSE_OPTIONS, SPILL_USAGE } from "./spill-config.ts";
import { DEFAULT_SOCKET_PATH, MAX_DIRECTORY_ENTRIES, type StoreOptions } from "./start.ts";

/** The plasma_store command line and PLASMA_* environment, read into StoreOptions. */

/** Capacity when neither -m nor PLASMA_MEMORY is given. The arena costs nothing until pages are touched. */
export const DEFAULT_CAPACITY_BYTES = 1024 ** 3;

export const USAGE = `Usage: plasma_store [options]

  -m, --memory BYTES       capacity of the store (default 1GiB). Plain bytes (1000000000), 1e9,
                           or with a unit: 512MiB, 2G, 2GiB (binary), 500MB, 1GB (decimal)
  -s, --socket PATH        Unix socket to listen on (default ${DEFAULT_SOCKET_PATH})
  -d, --directory DIR      back the arena with an unlinked file in DIR (e.g. /dev/shm, a hugetlbfs
                           mount); default: an anonymous memfd
  -h, --huge-pages         use 2 MiB huge pages (MFD_HUGETLB, or -d on a hugetlbfs mount)
      --prefault           fault the whole arena in at start-up, so clients' first writes pay no
                           allocation faults (costs the memory and start-up time)
      --eviction POLICY    eviction policy: ${EVICTION_POLICY_NAMES.join(", ")} (default lru)
      --max-clients N      refuse clients beyond N (default 1024)
      --allow-uid UIDS     comma-separated uids allowed to connect (checked with SO_PEERCRED)
      --read-only-uid UIDS comma-separated uids served read-only: a read-only descriptor, and create,
                           seal, abort, delete and evict refused (they may connect without --allow-uid)
      --socket-mode MODE   permissions of the socket file, octal (default 0600: only the store's user)
      --socket-group GROUP group (name or gid) that owns the socket file; with --socket-mode 0660 it
                           lets that group connect
      --max-object-size BYTES   largest object, data + metadata (default: the capacity)
      --max-metadata-size BYTES largest metadata of one object (default 1MiB)
      --max-ids-per-request N   ids in one get, getMetadata or delete (default 100000)
      --max-pending-gets N      gets one client may have blocked at once (default 1024)
      --max-pending-creates N   creates one client may have waiting for memory at once (default 64)
      --max-client-memory BYTES store memory one client may take (default 64MiB, at least 4MiB) in
                                each of: its blocked gets and waiting creates, its unread replies (at
                                this much its requests wait unread), the request frame it sends
      --hello-timeout-ms MS     close a connection that has not said Hello after MS (default 5000)
      --directory-entries N     shared-memory object directory for reads without a round trip: room for
                                N objects (rounded up to a power of two; default 1048576, a 64 MiB memfd
                                touched only where used); 0 turns it off (every read asks the store)
      --admin-grpc HOST:PORT    admin gRPC service (default ${DEFAULT_ADMIN_GRPC}; off disables it;
                                port 0 picks a free port; a busy default port is skipped with a warning)
      --admin-http HOST:PORT    admin HTTP: /metrics, /healthz, /readyz, /v1/* (default ${DEFAULT_ADMIN_HTTP}; off)
      --admin-token TOKEN       every admin call needs "authorization: Bearer TOKEN" (required to bind
                                the admin plane to a non-loopback address). Default: a token made up at
                                start, in SOCKET.admin-token, readable by whoever may open the socket
      --admin-insecure          no admin token at all, even on a non-loopback address
      --admin-read-only         refuse admin delete, evict and policy changes
      --admin-metrics-open      GET /metrics answers without the token
      --admin-allowed-host NAME admin HTTP accepts this Host name too (repeatable; IP addresses,
                                localhost and the listen host are always accepted)
${SPILL_USAGE}
${CLUSTER_USAGE}
      --help               print this help

Environment: PLASMA_MEMORY, PLASMA_SOCKET, PLASMA_DIRECTORY, PLASMA_HUGE_PAGES=1, PLASMA_PREFAULT=1,
PLASMA_SOCKET_MODE, PLASMA_SOCKET_GROUP, PLASMA_READ_ONLY_UIDS, PLASMA_EVICTION, PLASMA_ADMIN_GRPC,
PLASMA_ADMIN_HTTP, PLASMA_ADMIN_TOKEN, PLASMA_ADMIN_INSECURE=1, PLASMA_ADMIN_READ_ONLY=1,
PLASMA_ADMIN_METRICS_OPEN=1, PLASMA_ADMIN_ALLOWED_HOSTS (comma-separated), PLASMA_MAX_CLIENT_MEMORY,
PLASMA_HELLO_TIMEOUT_MS, PLASMA_SPILL_DIR, PLASMA_SPILL_MAX, PLASMA_DIRECTORY_ENTRIES,
PLASMA_LOG_LEVEL (default info), ${CLUSTER_ENV_USAGE}.
Flags win over the environment.`;

export interface CliConfig {
  help: boolean;
  options: StoreOptions;
}

/** Reads flags (and PLASMA_* environment variables) into store options. */
export function parseCli(
  argv: readonly string[],
  env: Record<string, string | undefined> = process.env,
): CliConfig {
  let parsed: ReturnType<typeof parseArgsStrict>;
  try {
    parsed = parseArgsStrict(argv);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const v = parsed.values;
  if (v.help === true) return { help: true, options: { capacityBytes: DEFAULT_CAPACITY_BYTES } };
  const memoryText = v.memory ?? env.PLASMA_MEMORY;
  const eviction = v.eviction ?? env.PLASMA_EVICTION ?? "lru";
  if (!(EVICTION_POLICY_NAMES as readonly string[]).includes(eviction)) {
    throw new UsageError(
      `Unknown eviction policy ${JSON.stringify(eviction)}; pick one of ${EVICTION_POLICY_NAMES.join(", ")}.`,
    );
  }
  const options: StoreOptions = {
    capacityBytes: memoryText === undefined ? DEFAULT_CAPACITY_BYTES : parseBytes(memoryText, "-m"),
    socketPath: v.socket ?? env.PLASMA_SOCKET ?? DEFAULT_SOCKET_PATH,
    directory: v.directory ?? (env.PLASMA_DIRECTORY || undefined),
    hugePages: v["huge-pages"] === true || env.PLASMA_HUGE_PAGES === "1",
    prefault: v.prefault === true || env.PLASMA_PREFAULT === "1",
    evictionPolicy: eviction as EvictionPolicyName,
  };
  if (v["max-clients"] !== undefined) {
    const maxClients = Number(v["max-clients"]);
    if (!Number.isSafeInteger(maxClients) || maxClients < 1)
      throw new UsageError("--max-clients takes a positive integer.");
    options.limits = { ...options.limits, maxClients };
  }
  const limits = parseLimitFlags(v);
  if (Object.keys(limits).length > 0) options.limits = { ...options.limits, ...limits };
  parseClientBudgetFlags(v, env, options);
  parseDirectoryEntries(v["directory-entries"] ?? (env.PLASMA_DIRECTORY_ENTRIES || undefined), options);
  const socketMode = v["socket-mode"] ?? (env.PLASMA_SOCKET_MODE || undefined);
  if (socketMode !== undefined) options.socketMode = parseSocketMode(socketMode);
  const socketGroup = v["socket-group"] ?? (env.PLASMA_SOCKET_GROUP || undefined);
  if (socketGroup !== undefined) options.socketGroup = parseSocketGroup(socketGroup);
  if (v["allow-uid"] !== undefined) {
    const uids = v["allow-uid"].split(",").map((s) => Number(s.trim()));
    if (uids.some((u) => !Number.isSafeInteger(u) || u < 0))
      throw new UsageError("--allow-uid takes comma-separated uids.");
    options.allowUids = uids;
  }
  const readOnlyUids = v["read-only-uid"] ?? (env.PLASMA_READ_ONLY_UIDS || undefined);
  if (readOnlyUids !== undefined) options.readOnlyUids = parseUidList(readOnlyUids, "--read-only-uid");
  const spill = parseSpillFlags(v, env);
  if (spill !== undefined) options.spill = spill;
  // Throws AdminConfigError, a UsageError.
  options.admin = resolveAdminOptions(v, env);
  // Throws UsageError (ClusterConfigError); absent without --cluster-etcd.
  const cluster = resolveClusterOptions(v, env);
  if (cluster !== undefined) options.cluster = cluster;
  return { help: false, options };
}

function parseArgsStrict(argv: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    options: {
      memory: { type: "string", short: "m" },
      socket: { type: "string", short: "s" },
      directory: { type: "string", short: "d" },
      "huge-pages": { type: "boolean", short: "h" },
      prefault: { type: "boolean" },
      eviction: { type: "string" },
      "max-clients": { type: "string" },
      "allow-uid": { type: "string" },
      "read-only-uid": { type: "string" },
      "socket-mode": { type: "string" },
      "socket-group": { type: "string" },
      "max-object-size": { type: "string" },
      "max-metadata-size": { type: "string" },
      "max-ids-per-request": { type: "string" },
      "max-pending-gets": { type: "string" },
      "max-pending-creates": { type: "string" },
      "max-client-memory": { type: "string" },
      "hello-timeout-ms": { type: "string" },
      "directory-entries": { type: "string" },
      ...ADMIN_PARSE_OPTIONS,
      ...SPILL_PARSE_OPTIONS,
      ...CLUSTER_PARSE_OPTIONS,
      help: { type: "boolean" },
    },
  });
  if (positionals.length > 0) throw new Error(`Unexpected argument ${JSON.stringify(positionals[0])}.`);
  return { values };
}

/** The limit flags (--max-object-size, --max-metadata-size, --max-ids-per-request, --max-pending-*). */
function parseLimitFlags(v: Record<string, string | string[] | boolean | undefined>): Partial<StoreLimits> {
  const limits: Partial<StoreLimits> = {};
  const text = (flag: string): string | undefined => {
    const value = v[flag];
    return typeof value === "string" ? value : undefined;
  };
  const count = (flag: string): number | undefined => {
    const value = text(flag);
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${flag} takes a positive integer.`);
    return n;
  };
  const objectSize = text("max-object-size");
  if (objectSize !== undefined) limits.maxObjectBytes = parseBytes(objectSize, "--max-object-size");
  const metadataSize = text("max-metadata-size");
  if (metadataSize !== undefined) {
    limits.maxMetadataBytes = parseBytes(metadataSize, "--max-metadata-size");
    if (limits.maxMetadataBytes > DEFAULT_MAX_METADATA_BYTES) {
      throw new UsageError(
        `--max-metadata-size can lower the limit of ${DEFAULT_MAX_METADATA_BYTES} bytes, not raise it.`,
      );
    }
  }
  const ids = count("max-ids-per-request");
  if (ids !== undefined) {
    if (ids > DEFAULT_MAX_IDS_PER_REQUEST) {
      throw new UsageError(
        `--max-ids-per-request can lower the limit of ${DEFAULT_MAX_IDS_PER_REQUEST}, not raise it.`,
      );
    }
    limits.maxIdsPerRequest = ids;
  }
  const gets = count("max-pending-gets");
  if (gets !== undefined) limits.maxPendingGetsPerClient = gets;
  const creates = count("max-pending-creates");
  if (creates !== undefined) limits.maxPendingCreatesPerClient = creates;
  return limits;
}

/** --max-client-memory and --hello-timeout-ms (and their PLASMA_* variables), into `options`. */
function parseClientBudgetFlags(
  v: Record<string, string | string[] | boolean | undefined>,
  env: Record<string, string | undefined>,
  options: StoreOptions,
): void {
  const flag = (name: string): string | undefined => {
    const value = v[name];
    return typeof value === "string" ? value : undefined;
  };
  const memory = flag("max-client-memory") ?? (env.PLASMA_MAX_CLIENT_MEMORY || undefined);
  if (memory !== undefined) {
    const maxClientMemoryBytes = parseBytes(memory, "--max-client-memory");
    if (maxClientMemoryBytes < MIN_CLIENT_MEMORY_BYTES) {
      throw new UsageError(
        `--max-client-memory must be at least ${MIN_CLIENT_MEMORY_BYTES} bytes (4MiB): a client's largest requests must fit.`,
      );
    }
    options.limits = { ...options.limits, maxClientMemoryBytes };
  }
  const hello = flag("hello-timeout-ms") ?? (env.PLASMA_HELLO_TIMEOUT_MS || undefined);
  if (hello !== undefined) {
    const helloTimeoutMs = Number(hello);
    if (!Number.isSafeInteger(helloTimeoutMs) || helloTimeoutMs < 1 || helloTimeoutMs > MAX_TIMEOUT_MS) {
      throw new UsageError(
        `--hello-timeout-ms takes a positive integer number of ms, got ${JSON.stringify(hello)}.`,
      );
    }
    options.helloTimeoutMs = helloTimeoutMs;
  }
}

/** --directory-entries N (PLASMA_DIRECTORY_ENTRIES): 0 turns directory reads off. */
function parseDirectoryEntries(text: string | undefined, options: StoreOptions): void {
  if (text === undefined) return;
  const entries = Number(text);
  if (!Number.isSafeInteger(entries) || entries < 0 || entries > MAX_DIRECTORY_ENTRIES) {
    throw new UsageError(
      `--directory-entries takes an integer from 0 (off) to ${MAX_DIRECTORY_ENTRIES}, got ${JSON.stringify(text)}.`,
    );
  }
  options.directoryEntries = entries;
}

/** Comma-separated uids (read-only uids: see StoreOptions.readOnlyUids). */
function parseUidList(text: string, flag: string): number[] {
  const uids = text.split(",").map((s) => (s.trim() === "" ? Number.NaN : Number(s.trim())));
  if (uids.some((u) => !Number.isSafeInteger(u) || u < 0))
    throw new UsageError(`${flag} takes comma-separated uids, got ${JSON.stringify(text)}.`);
  return uids;
}

/** An octal mode such as 0600, 660 or 0o660, at most 0777. */
export function parseSocketMode(text: string): number {
  const match = /^(?:0o?)?([0-7]{1,4})$/.exec(text.trim());
  const mode = match === null ? Number.NaN : Number.parseInt(match[1] as string, 8);
  if (!Number.isInteger(mode) || mode > 0o777) {
    throw new UsageError(
      `--socket-mode takes octal permissions like 0600 or 0660, got ${JSON.stringify(text)}.`,
    );
  }
  return mode;
}

/** A gid, or a group name looked up in /etc/group. */
export function parseSocketGroup(text: string): number {
  const trimmed = text.trim();
  if (/^[0-9]+$/.test(trimmed)) return Number(trimmed);
  let groups = "";
  try {
    groups = readFileSync("/etc/group", "utf8");
  } catch {
    // No group database: only numeric gids work.
  }
  for (const line of groups.split("\n")) {
    const [name, , gid] = line.split(":");
    if (name === trimmed && gid !== undefined && /^[0-9]+$/.test(gid)) return Number(gid);
  }
  throw new UsageError(
    `--socket-group: no group named ${JSON.stringify(text)} (give a group name or a gid).`,
  );
}
