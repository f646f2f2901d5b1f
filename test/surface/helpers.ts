/**
 * Stores, commands and waits for the surface tests, on the shared helpers of test/helpers/: every store
 * gets a temp socket and temp dir, an environment without inherited PLASMA_* variables, admin endpoints
 * only where the test asks (never the default ports 50051/9090), and is stopped by stopAll() in the test
 * file's afterEach/afterAll.
 */
import { join } from "node:path";
import type { Subprocess } from "bun";
import { adminAddresses, generatedToken } from "../helpers/admin-store.ts";
import { STORE_CLI } from "../helpers/daemon.ts";
import { type CommandResult, runCommand, testEnv } from "../helpers/run.ts";
import { startStoreProcess, tempDir } from "../helpers/store-process.ts";
import { waitUntil } from "../helpers/wait.ts";

export { STORE_CLI, tempDir, waitUntil };
export const ADMIN_CLI = join(import.meta.dir, "../../src/admin/cli.ts");
export const PROBE_CLIENT = join(import.meta.dir, "clients/probe.ts");
export const BROKEN_STORE = join(import.meta.dir, "clients/broken-store.ts");

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** A TCP port nothing listens on right now (bound on port 0, then closed). */
export function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/**
 * Where the admin plane goes: "off" (both disabled), "http" / "grpc" / "both" (on 127.0.0.1 port 0, the
 * other off), or "env" (the test sets PLASMA_ADMIN_GRPC and PLASMA_ADMIN_HTTP itself, or passes flags).
 */
export type AdminChoice = "off" | "http" | "grpc" | "both" | "env";

export interface StoreSpec {
  admin: AdminChoice;
  /** Extra flags. */
  args?: string[];
  /** Variables on top of the cleaned environment. */
  env?: Record<string, string>;
  /** -m (default 16MiB); not passed when env has PLASMA_MEMORY. */
  memory?: string;
  /** -s (default a temp path); not passed when env has PLASMA_SOCKET. */
  socketPath?: string;
  /** Ready when the start line is logged (default), or when the socket accepts (for quiet log levels). */
  readyWhen?: "start-line" | "socket";
}

export interface SurfaceStore {
  readonly socketPath: string;
  readonly dir: string;
  readonly pid: number;
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  /** HOST:PORT the admin endpoints bound (from the start line), or null. */
  readonly grpc: string | null;
  readonly http: string | null;
  /** The admin token the store generated (read from the file next to its socket), or undefined. */
  readonly token: string | undefined;
  output(): string;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM by pid and wait (SIGKILL after 20 s); returns the exit code. Removes the temp dir. */
  stop(): Promise<number>;
}

const live = new Set<{ stop(): Promise<number> }>();

/** Stops every store and child this file started that is still running. For afterEach / afterAll. */
export async function stopAll(): Promise<void> {
  for (const running of [...live]) await running.stop();
}

function adminArgs(choice: AdminChoice): string[] {
  const on = "127.0.0.1:0";
  switch (choice) {
    case "off":
      return ["--admin-grpc", "off", "--admin-http", "off"];
    case "http":
      return ["--admin-grpc", "off", "--admin-http", on];
    case "grpc":
      return ["--admin-grpc", on, "--admin-http", "off"];
    case "both":
      return ["--admin-grpc", on, "--admin-http", on];
    case "env":
      return [];
  }
}

function checkAdminSpec(spec: StoreSpec): void {
  if (spec.admin !== "env") return;
  const env = spec.env ?? {};
  const args = spec.args ?? [];
  const named = (flag: string, variable: string) => args.includes(flag) || env[variable] !== undefined;
  if (!named("--admin-grpc", "PLASMA_ADMIN_GRPC") || !named("--admin-http", "PLASMA_ADMIN_HTTP")) {
    throw new Error("admin: env needs both admin addresses, or the store would take the default ports");
  }
}

/**
 * Starts a real plasma_store (startStoreProcess: -m and -s unless env sets PLASMA_MEMORY / PLASMA_SOCKET)
 * at the default log level unless env sets one, and waits until it is ready.
 */
export async function startStore(spec: StoreSpec): Promise<SurfaceStore> {
  checkAdminSpec(spec);
  const store = await startStoreProcess({
    memory: spec.env?.PLASMA_MEMORY === undefined ? (spec.memory ?? "16MiB") : undefined,
    socketPath: spec.env?.PLASMA_SOCKET === undefined ? spec.socketPath : undefined,
    args: [...adminArgs(spec.admin), ...(spec.args ?? [])],
    env: { PLASMA_LOG_LEVEL: "info", ...spec.env },
    readyWhen: spec.readyWhen,
  });
  const { grpc, http } =
    spec.readyWhen === "socket" ? { grpc: null, http: null } : adminAddresses(store.output());
  const stop = () => {
    const killer = setTimeout(() => store.proc.exitCode === null && store.proc.kill("SIGKILL"), 20_000);
    return store.stop().finally(() => {
      clearTimeout(killer);
      live.delete(handle);
    });
  };
  const handle: SurfaceStore = {
    socketPath: store.socketPath,
    dir: store.dir,
    pid: store.proc.pid,
    proc: store.proc,
    grpc,
    http,
    get token() {
      return generatedToken(store.socketPath);
    },
    output: store.output,
    waitForOutput: store.waitForOutput,
    stop,
  };
  live.add(handle);
  return handle;
}

/** Runs a command to its end with the cleaned environment plus `env`; SIGKILLed after timeoutMs. */
export function run(
  argv: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<CommandResult> {
  return runCommand(argv, { env, timeoutMs });
}

/** plasma-admin with `args`, the cleaned environment plus `env`. */
export function runAdmin(args: string[], env: Record<string, string> = {}): Promise<CommandResult> {
  return run(["bun", ADMIN_CLI, ...args], env);
}

export interface Child {
  readonly pid: number;
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  /** stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Waits until stdout matches. */
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** SIGCONT and SIGTERM by pid (SIGKILL after 20 s), then the exit code. */
  stop(): Promise<number>;
}

/** Starts a long-running process (cleaned environment plus `env`), its output collected as it comes. */
export function spawnChild(argv: string[], env: Record<string, string> = {}): Child {
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: testEnv(env) });
  let out = "";
  let err = "";
  const collect = async (stream: ReadableStream<Uint8Array>, add: (text: string) => void) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) add(decoder.decode(chunk, { stream: true }));
  };
  const pumped = Promise.all([
    collect(proc.stdout, (t) => {
      out += t;
    }),
    collect(proc.stderr, (t) => {
      err += t;
    }),
  ]);
  let stopped: Promise<number> | null = null;
  const child: Child = {
    pid: proc.pid,
    proc,
    stdout: () => out,
    stderr: () => err,
    waitForStdout: (pattern, timeoutMs = 20_000) =>
      waitUntil(
        () => `${pattern} in the output of ${argv.join(" ")} (so far: ${out}${err})`,
        () => pattern.test(out),
        timeoutMs,
      ),
    stop() {
      stopped ??= (async () => {
        if (proc.exitCode === null && proc.signalCode === null) {
          process.kill(proc.pid, "SIGCONT");
          process.kill(proc.pid, "SIGTERM");
        }
        const killer = setTimeout(() => proc.exitCode === null && process.kill(proc.pid, "SIGKILL"), 20_000);
        const code = await proc.exited;
        clearTimeout(killer);
        await pumped;
        live.delete(child);
        return code;
      })();
      return stopped;
    },
  };
  live.add(child);
  return child;
}

/** The store's JSON log lines. */
export function logLines(output: string): Record<string, unknown>[] {
  return output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** GET (or another method) on a store's admin HTTP; the response and its parsed JSON body, if any. */
export async function adminHttp(
  store: SurfaceStore,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: unknown; text: string }> {
  if (store.http === null) throw new Error("this store has no admin HTTP");
  // The store's generated token, unless the request carries its own (or there is none).
  const headers = new Headers(init.headers);
  const token = store.token;
  if (!headers.has("authorization") && token !== undefined) headers.set("authorization", `Bearer ${token}`);
  const response = await fetch(`http://${store.http}${path}`, { ...init, headers });
  const text = await response.text();
  let body: unknown = null;
  if ((response.headers.get("content-type") ?? "").includes("application/json")) body = JSON.parse(text);
  return { status: response.status, body, text };
}
