import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { STORE_CLI } from "./daemon.ts";
import { type CommandResult, runCommand, testEnv } from "./run.ts";
import { waitUntil } from "./wait.ts";

export interface StoreProcess {
  readonly socketPath: string;
  readonly dir: string;
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Everything the store printed so far (stdout and stderr). */
  output(): string;
  /** Waits for a line of output matching the pattern. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM and wait; returns the exit code. Removes the temp dir. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

export interface StoreProcessOptions {
  /** -m; 64 MiB unless given, or unless `env` sets PLASMA_MEMORY (then no -m). */
  memory?: string;
  /** Extra CLI flags. */
  args?: string[];
  /** Environment variables for the store, on top of the test's environment without its PLASMA_* ones. */
  env?: Record<string, string>;
  /** -s; a socket in a fresh temporary directory unless given, or unless `env` sets PLASMA_SOCKET (then no -s). */
  socketPath?: string;
  /**
   * Ready when the "plasma_store started" line is logged (default), or when the socket accepts
   * connections (for log levels that leave the start line out).
   */
  readyWhen?: "start-line" | "socket";
  /**
   * Runs the store on this many CPUs (taskset), so what depends on the CPU count (the polling advice)
   * does not change with the machine. Unset: whatever the test runs on.
   */
  cpus?: number;
  /**
   * Leaves the admin plane to the CLI's defaults (127.0.0.1:50051 and :9090). Only for tests about those
   * ports: otherwise the admin plane is off unless `args` or `env` name an address.
   */
  adminDefaults?: boolean;
}

/** A fresh temporary directory for sockets and files; removed by the caller. */
export function tempDir(prefix = "plasma-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * The admin plane stays off unless the test asks for it (a flag in `args` or a PLASMA_ADMIN_* address in
 * `env`): a test store must not take the default ports 50051/9090 from whoever else uses the machine.
 */
function adminOffFlags(options: StoreProcessOptions): string[] {
  if (options.adminDefaults === true) return [];
  const args = options.args ?? [];
  const flags: string[] = [];
  if (!args.includes("--admin-grpc") && options.env?.PLASMA_ADMIN_GRPC === undefined) {
    flags.push("--admin-grpc", "off");
  }
  if (!args.includes("--admin-http") && options.env?.PLASMA_ADMIN_HTTP === undefined) {
    flags.push("--admin-http", "off");
  }
  return flags;
}

/** The CPUs this process may run on (Cpus_allowed_list of /proc/self/status), in order. */
function allowedCpus(): number[] {
  const line = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? "";
  return line.split(",").flatMap((range) => {
    const [first, last] = range.split("-").map(Number) as [number, number | undefined];
    return Array.from({ length: (last ?? first) - first + 1 }, (_, i) => first + i);
  });
}

/** `taskset -c` with the first n CPUs this process may use, or nothing when no CPU count is asked for. */
function cpuPrefix(cpus: number | undefined): string[] {
  if (cpus === undefined) return [];
  const allowed = allowedCpus();
  if (allowed.length < cpus) {
    throw new Error(`this test pins the store to ${cpus} CPUs; it may only use ${allowed.length}`);
  }
  return ["taskset", "-c", allowed.slice(0, cpus).join(",")];
}

/**
 * Starts a real plasma_store process on a temp socket and waits until it accepts connections. The store
 * gets only the environment the test means (PLASMA_* variables of the shell are dropped) and no admin
 * plane unless asked for; it logs at debug level.
 */
export async function startStoreProcess(options: StoreProcessOptions = {}): Promise<StoreProcess> {
  const dir = tempDir();
  const envMemory = options.memory === undefined ? options.env?.PLASMA_MEMORY : undefined;
  const envSocket = options.socketPath === undefined ? options.env?.PLASMA_SOCKET : undefined;
  const socketPath = options.socketPath ?? envSocket ?? join(dir, "plasma.sock");
  const args = [
    ...(envMemory === undefined ? ["-m", options.memory ?? String(64 * 1024 * 1024)] : []),
    ...(envSocket === undefined ? ["-s", socketPath] : []),
    ...adminOffFlags(options),
    ...(options.args ?? []),
  ];
  const proc = Bun.spawn([...cpuPrefix(options.cpus), "bun", STORE_CLI, ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: testEnv({ PLASMA_LOG_LEVEL: "debug", ...options.env }),
  });
  const output = collectOutput(proc);
  const started =
    options.readyWhen === "socket"
      ? waitUntil(`${socketPath} accepts`, () => socketAccepts(socketPath), 15_000)
      : output.waitForOutput(/plasma_store started/);
  const exited = proc.exited.then((code) => {
    throw new Error(`plasma_store exited with ${code} before starting:\n${output.text()}`);
  });
  exited.catch(() => {});
  try {
    await Promise.race([started, exited]);
  } catch (error) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    await proc.exited;
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  let stopped: Promise<number> | null = null;
  return {
    socketPath,
    dir,
    proc,
    output: output.text,
    waitForOutput: output.waitForOutput,
    stop(signal: NodeJS.Signals = "SIGTERM") {
      stopped ??= (async () => {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
        const code = await proc.exited;
        await output.drained;
        rmSync(dir, { recursive: true, force: true });
        return code;
      })();
      return stopped;
    },
  };
}

async function socketAccepts(socketPath: string): Promise<boolean> {
  try {
    const socket = await Bun.connect({ unix: socketPath, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}

/** Accumulates a process's stdout and stderr, and waits for a pattern to appear in them. */
function collectOutput(proc: Subprocess<"ignore", "pipe", "pipe">): {
  text: () => string;
  /** Resolves once both streams have ended (the process exited and everything it printed is in text). */
  drained: Promise<unknown>;
  waitForOutput: (pattern: RegExp, timeoutMs?: number) => Promise<string>;
} {
  let text = "";
  const listeners = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      for (const l of listeners) l();
    }
  };
  const drained = Promise.all([pump(proc.stdout), pump(proc.stderr)]);

  const waitForOutput = (pattern: RegExp, timeoutMs = 15_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const m = pattern.exec(text);
        if (m !== null) {
          listeners.delete(check);
          clearTimeout(timer);
          resolve(m[0]);
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`timed out waiting for ${pattern} in store output:\n${text}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });
  return { text: () => text, drained, waitForOutput };
}

/** Runs a Bun script (a file path) as a separate client process; resolves with its output and exit code. */
export function runClientProcess(
  script: string,
  args: string[] = [],
  options: { timeoutMs?: number; env?: Record<string, string>; cwd?: string } = {},
): Promise<CommandResult> {
  return runCommand(["bun", script, ...args], options);
}
