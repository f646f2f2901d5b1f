import { parseArgs } from "node:util";
import { EVICTION_POLICY_NAMES, type EvictionPolicyName } from "./eviction/policy.ts";
import { DEFAULT_SOCKET_PATH, type StoreOptions } from "./index.ts";

/** Capacity when neither -m nor PLASMA_MEMORY is given. The arena costs nothing until pages are touched. */
export const DEFAULT_MEMORY_BYTES = 1024 ** 3;

export const USAGE = `Usage: plasma_store [options]

  -m, --memory BYTES       capacity of the store (default 1GiB). Plain bytes (1000000000), 1e9,
                           or with a unit: 512MiB, 2G, 2GiB (binary), 500MB, 1GB (decimal)
  -s, --socket PATH        Unix socket to listen on (default ${DEFAULT_SOCKET_PATH})
  -d, --directory DIR      back the arena with an unlinked file in DIR (e.g. /dev/shm, a hugetlbfs
                           mount); default: an anonymous memfd
  -h, --huge-pages         use 2 MiB huge pages (MFD_HUGETLB, or -d on a hugetlbfs mount)
      --eviction POLICY    eviction policy: ${EVICTION_POLICY_NAMES.join(", ")} (default lru)
      --max-clients N      refuse clients beyond N (default 1024)
      --allow-uid UIDS     comma-separated uids allowed to connect (checked with SO_PEERCRED)
      --help               print this help

Environment: PLASMA_MEMORY, PLASMA_SOCKET, PLASMA_DIRECTORY, PLASMA_HUGE_PAGES=1, PLASMA_EVICTION,
PLASMA_LOG_LEVEL (default info). Flags win over the environment.`;

/** A bad command line; the CLI prints the message and the usage and exits 2. */
export class UsageError extends Error {}

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
};

/**
 * Parses a byte count: "1000000000", "1e9", "512MiB", "2G" (binary: K, M, G, T, KiB, …) or "500MB"
 * (decimal: kB, MB, GB, TB). Throws UsageError unless the result is a positive whole number of bytes.
 */
export function parseBytes(text: string, what = "size"): number {
  const match = /^\s*([0-9]+(?:\.[0-9]+)?(?:[eE][+]?[0-9]+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = match?.[2]?.toLowerCase() ?? "";
  const multiplier = UNITS[unit];
  if (match === null || multiplier === undefined) {
    throw new UsageError(
      `Cannot read ${what} ${JSON.stringify(text)}: use bytes (1000000000, 1e9) or a unit (512MiB, 2G, 1GB).`,
    );
  }
  const value = Number(match[1]) * multiplier;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new UsageError(
      `${what} ${JSON.stringify(text)} must be a positive whole number of bytes below 2^53.`,
    );
  }
  return value;
}

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
  if (v.help === true) return { help: true, options: { memoryBytes: DEFAULT_MEMORY_BYTES } };
  const memoryText = v.memory ?? env.PLASMA_MEMORY;
  const eviction = v.eviction ?? env.PLASMA_EVICTION ?? "lru";
  if (!(EVICTION_POLICY_NAMES as readonly string[]).includes(eviction)) {
    throw new UsageError(
      `Unknown eviction policy ${JSON.stringify(eviction)}; pick one of ${EVICTION_POLICY_NAMES.join(", ")}.`,
    );
  }
  const options: StoreOptions = {
    memoryBytes: memoryText === undefined ? DEFAULT_MEMORY_BYTES : parseBytes(memoryText, "-m"),
    socketPath: v.socket ?? env.PLASMA_SOCKET ?? DEFAULT_SOCKET_PATH,
    directory: v.directory ?? (env.PLASMA_DIRECTORY || undefined),
    hugePages: v["huge-pages"] === true || env.PLASMA_HUGE_PAGES === "1",
    evictionPolicy: eviction as EvictionPolicyName,
  };
  if (v["max-clients"] !== undefined) {
    const maxClients = Number(v["max-clients"]);
    if (!Number.isSafeInteger(maxClients) || maxClients < 1)
      throw new UsageError("--max-clients takes a positive integer.");
    options.limits = { maxClients };
  }
  if (v["allow-uid"] !== undefined) {
    const uids = v["allow-uid"].split(",").map((s) => Number(s.trim()));
    if (uids.some((u) => !Number.isSafeInteger(u) || u < 0))
      throw new UsageError("--allow-uid takes comma-separated uids.");
    options.allowUids = uids;
  }
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
      eviction: { type: "string" },
      "max-clients": { type: "string" },
      "allow-uid": { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (positionals.length > 0) throw new Error(`Unexpected argument ${JSON.stringify(positionals[0])}.`);
  return { values };
}
