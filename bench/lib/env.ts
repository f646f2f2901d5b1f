/** Starting and stopping what the benchmark compares: plasma_store and redis-server processes, huge pages. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { RedisClient, type Subprocess } from "bun";
import { type ConnectOptions, connect, type PlasmaClient } from "../../src/client/index.ts";

export const REPO_ROOT = join(import.meta.dir, "../..");
const STORE_CLI = join(REPO_ROOT, "src/daemon/cli.ts");

/** Options every section receives. */
export interface BenchOptions {
  /** Fewer repeats and smaller populations: CI's smoke run (`bun run bench --quick`). */
  quick: boolean;
  /** This process (and everything it starts) is pinned to one core with taskset. */
  pinned: boolean;
}

export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  return { quick: argv.includes("--quick"), pinned: argv.includes("--pinned") };
}

/** Figures a section measured, keyed by metric name (see bench/rows.ts for what each row compares). */
export type Metrics = Record<string, number>;

export function tempDir(prefix = "plasma-bench-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface StoreProcessHandle {
  readonly socketPath: string;
  readonly pid: number;
  connect(options?: ConnectOptions): Promise<PlasmaClient>;
  stop(): Promise<void>;
}

/** Starts `plasma_store -m capacityBytes` (plus flags) as a child process on a socket in a fresh temp dir. */
export async function startStore(capacityBytes: number, flags: string[] = []): Promise<StoreProcessHandle> {
  const dir = tempDir();
  const socketPath = join(dir, "plasma.sock");
  let output = "";
  const proc = Bun.spawn(["bun", STORE_CLI, "-m", String(capacityBytes), "-s", socketPath, ...flags], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, PLASMA_LOG_LEVEL: "warn" },
  });
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
  };
  void pump(proc.stdout);
  void pump(proc.stderr);
  let stopping = false;
  // A store that dies under the benchmark says why (its warnings and errors) on the bench's stderr.
  void proc.exited.then((code) => {
    if (!stopping) {
      process.stderr.write(
        `bench: plasma_store ${flags.join(" ")} exited unexpectedly (code ${code}, signal ${proc.signalCode}):\n${output}\n`,
      );
    }
  });
  const stop = async () => {
    stopping = true;
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
    await proc.exited;
    rmSync(dir, { recursive: true, force: true });
  };
  // Prefaulting a large arena takes seconds: wait generously for the socket.
  for (let attempt = 0; !existsSync(socketPath); attempt++) {
    if (proc.exitCode !== null || attempt > 1200) {
      await stop();
      throw new Error(`plasma_store ${flags.join(" ")} did not start:\n${output}`);
    }
    await Bun.sleep(50);
  }
  return {
    socketPath,
    pid: proc.pid,
    connect: (options) => connect(socketPath, { retries: 50, retryDelayMs: 100, ...options }),
    stop,
  };
}

export interface RedisHandle {
  readonly socketPath: string;
  readonly url: string;
  readonly pid: number;
  client(): Promise<RedisClient>;
  stop(): Promise<void>;
}

/** Installs Debian's redis-server when it is missing (root and apt-get needed). */
export function ensureRedisServer(): string {
  const found = Bun.which("redis-server");
  if (found !== null) return found;
  console.error("bench: redis-server is missing; installing Debian's redis-server package");
  const run = (cmd: string[]) => Bun.spawnSync(cmd, { stdout: "inherit", stderr: "inherit" }).exitCode === 0;
  const apt = ["apt-get", "install", "-y", "--no-install-recommends", "redis-server"];
  if (!run(apt) && !(run(["apt-get", "update"]) && run(apt))) {
    throw new Error(
      "Could not install redis-server: run `apt-get install redis-server` as root, then retry.",
    );
  }
  const installed = Bun.which("redis-server");
  if (installed === null) throw new Error("redis-server is still not on PATH after installing it.");
  return installed;
}

/** Starts redis-server on a Unix socket only (no TCP, no persistence). */
export async function startRedis(): Promise<RedisHandle> {
  const binary = ensureRedisServer();
  const dir = tempDir("plasma-bench-redis-");
  const socketPath = join(dir, "redis.sock");
  const proc: Subprocess = Bun.spawn(
    [
      binary,
      "--port",
      "0",
      "--unixsocket",
      socketPath,
      "--unixsocketperm",
      "700",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
      "--proto-max-bulk-len",
      "1gb",
      "--client-query-buffer-limit",
      "1gb",
      "--loglevel",
      "warning",
    ],
    { stdin: "ignore", stdout: "ignore", stderr: "inherit" },
  );
  const url = `redis+unix://${socketPath}`;
  const clients: RedisClient[] = [];
  const stop = async () => {
    for (const c of clients) c.close();
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
    await proc.exited;
    rmSync(dir, { recursive: true, force: true });
  };
  for (let attempt = 0; !existsSync(socketPath); attempt++) {
    if (proc.exitCode !== null || attempt > 400) {
      await stop();
      throw new Error("redis-server did not start");
    }
    await Bun.sleep(25);
  }
  return {
    socketPath,
    url,
    pid: proc.pid,
    async client() {
      const c = new RedisClient(url, { enableAutoPipelining: true });
      await c.connect();
      clients.push(c);
      return c;
    },
    stop,
  };
}

/** Reads a line `Key: value kB` from /proc/PID/status, in bytes. */
export function procStatusBytes(pid: number, key: string): number {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text);
  return match === null ? Number.NaN : Number(match[1]) * 1024;
}

const NR_HUGEPAGES = "/proc/sys/vm/nr_hugepages";

/**
 * Makes sure at least `pages` 2 MiB huge pages are reserved; returns a function that takes the pages it
 * added away again, or null when they cannot be had (not root, or not enough memory).
 */
export function reserveHugePages(pages: number): (() => void) | null {
  let before: number;
  try {
    before = Number(readFileSync(NR_HUGEPAGES, "utf8").trim());
  } catch {
    return null;
  }
  const free = () => {
    const m = /HugePages_Free:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"));
    return m === null ? 0 : Number(m[1]);
  };
  if (free() >= pages) return () => {};
  const wanted = String(before + pages - free());
  try {
    writeFileSync(NR_HUGEPAGES, wanted);
    if (free() < pages) {
      // Free memory is often too fragmented for 2 MiB pages: compact it and ask again.
      writeFileSync("/proc/sys/vm/compact_memory", "1");
      writeFileSync(NR_HUGEPAGES, wanted);
    }
  } catch {
    return null;
  }
  // Take away what this call added, not back to `before`: others may have changed the pool meanwhile.
  const added = Number(readFileSync(NR_HUGEPAGES, "utf8").trim()) - before;
  const restore = () => {
    try {
      const now = Number(readFileSync(NR_HUGEPAGES, "utf8").trim());
      writeFileSync(NR_HUGEPAGES, String(Math.max(0, now - added)));
    } catch {
      // Leave it; the pages are freed when nobody maps them.
    }
  };
  if (free() < pages) {
    restore();
    return null;
  }
  return restore;
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  bunVersion: string;
  pageSizeBytes: number;
  hugePageSizeBytes: number;
  memoryBytes: number;
  kernel: string;
  loadAverage: string;
  redisVersion: string;
  date: string;
}

export function machineInfo(): MachineInfo {
  const meminfo = readFileSync("/proc/meminfo", "utf8");
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(meminfo)?.[1] ?? 0) * 1024;
  const getconf = Bun.spawnSync(["getconf", "PAGESIZE"]).stdout.toString().trim();
  const redis = Bun.which("redis-server");
  const redisVersion =
    redis === null
      ? "not installed"
      : (/v=(\S+)/.exec(Bun.spawnSync([redis, "--version"]).stdout.toString())?.[1] ?? "unknown");
  return {
    cpuModel: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    bunVersion: Bun.version,
    pageSizeBytes: Number(getconf) || 4096,
    hugePageSizeBytes: kb("Hugepagesize"),
    memoryBytes: kb("MemTotal"),
    kernel: readFileSync("/proc/sys/kernel/osrelease", "utf8").trim(),
    loadAverage: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" "),
    redisVersion,
    date: new Date().toISOString(),
  };
}

/**
 * The `import.meta.main` entry of a section: runs it and prints its metrics (as one `METRICS {json}` line
 * with --json, which is how bench/run.ts reads them).
 */
export async function sectionMain(run: (options: BenchOptions) => Promise<Metrics>): Promise<void> {
  const argv = process.argv.slice(2);
  const metrics = await run(parseBenchArgs(argv));
  if (argv.includes("--json")) console.log(`METRICS ${JSON.stringify(metrics)}`);
  else console.log(metrics);
}
