/**
 * Stores, commands and waits for the surface tests. Every store gets a temp socket and temp dir, an
 * environment without inherited PLASMA_* variables, admin endpoints only where the test asks (never the
 * default ports 50051/9090), and is killed by pid by stopAllStores() in the test file's afterEach/afterAll.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { generatedToken } from "../helpers/admin-store.ts";
import { type CommandResult, startLine } from "../helpers/run.ts";

export const STORE_CLI = join(import.meta.dir, "../../src/daemon/cli.ts");
export const ADMIN_CLI = join(import.meta.dir, "../../src/admin/cli.ts");
export const PROBE_CLIENT = join(import.meta.dir, "clients/probe.ts");
export const BROKEN_STORE = join(import.meta.dir, "clients/broken-store.ts");

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** This process's environment minus every PLASMA_* variable, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("PLASMA_") && value !== undefined) env[key] = value;
  }
  return { ...env, ...extra };
}

/** A fresh temporary directory; removed by whoever made it (stores remove their own). */
export function tempDir(prefix = "plasma-surface-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A TCP port nothing listens on right now (bound on port 0, then closed). */
export function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/** Polls `cond` until it holds; throws naming `what` after timeoutMs. */
export async function waitUntil(
  what: string | (() => string),
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting until ${typeof what === "string" ? what : what()}`,
      );
    }
    await Bun.sleep(10);
  }
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

/** The command line of a store for `spec`: bun, the CLI, -m, -s, the admin flags and the extra flags. */
export function storeArgv(spec: StoreSpec, socketPath: string): string[] {
  const env = spec.env ?? {};
  const args = spec.args ?? [];
  if (spec.admin === "env") {
    const named = (flag: string, variable: string) => args.includes(flag) || env[variable] !== undefined;
    if (!named("--admin-grpc", "PLASMA_ADMIN_GRPC") || !named("--admin-http", "PLASMA_ADMIN_HTTP")) {
      throw new Error("admin: env needs both admin addresses, or the store would take the default ports");
    }
  }
  return [
    "bun",
    STORE_CLI,
    ...(env.PLASMA_MEMORY === undefined ? ["-m", spec.memory ?? "16MiB"] : []),
    ...(env.PLASMA_SOCKET === undefined ? ["-s", socketPath] : []),
    ...adminArgs(spec.admin),
    ...args,
  ];
}

/** Starts a real plasma_store and waits until it is ready. */
export async function startStore(spec: StoreSpec): Promise<SurfaceStore> {
  const dir = tempDir();
  const socketPath = spec.env?.PLASMA_SOCKET ?? spec.socketPath ?? join(dir, "plasma.sock");
  const proc = Bun.spawn(storeArgv(spec, socketPath), {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: cleanEnv(spec.env),
  });
  let text = "";
  const listeners = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      for (const listener of listeners) listener();
    }
  };
  const pumped = Promise.all([pump(proc.stdout), pump(proc.stderr)]);
  const waitForOutput = (pattern: RegExp, timeoutMs = 20_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(text);
        if (match === null) return;
        listeners.delete(check);
        clearTimeout(timer);
        resolve(match[0]);
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`timed out waiting for ${pattern} in store output:\n${text}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });
  let stopped: Promise<number> | null = null;
  const stop = () => {
    stopped ??= (async () => {
      if (proc.exitCode === null && proc.signalCode === null) process.kill(proc.pid, "SIGTERM");
      const killer = setTimeout(() => proc.exitCode === null && process.kill(proc.pid, "SIGKILL"), 20_000);
      const code = await proc.exited;
      clearTimeout(killer);
      await pumped;
      live.delete(handle);
      rmSync(dir, { recursive: true, force: true });
      return code;
    })();
    return stopped;
  };
  let grpc: string | null = null;
  let http: string | null = null;
  const handle: SurfaceStore = {
    socketPath,
    dir,
    pid: proc.pid,
    proc,
    get grpc() {
      return grpc;
    },
    get http() {
      return http;
    },
    get token() {
      return generatedToken(socketPath);
    },
    output: () => text,
    waitForOutput,
    stop,
  };
  live.add(handle);
  const exited = proc.exited.then((code) => {
    throw new Error(`plasma_store exited with ${code} before it was ready:\n${text}`);
  });
  exited.catch(() => {});
  const ready =
    spec.readyWhen === "socket"
      ? waitUntil(`${socketPath} accepts`, () => socketAccepts(socketPath), 20_000)
      : waitForOutput(/plasma_store started[^\n]*\n/);
  try {
    await Promise.race([ready, exited]);
  } catch (error) {
    await stop();
    throw error;
  }
  if (spec.readyWhen !== "socket") {
    const line = startLine(text) as { adminGrpc?: string | null; adminHttp?: string | null };
    grpc = line.adminGrpc ?? null;
    http = line.adminHttp ?? null;
  }
  return handle;
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

/** Runs a command to its end with the cleaned environment plus `env`; SIGKILLed by pid after timeoutMs. */
export async function run(
  argv: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<CommandResult> {
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: cleanEnv(env) });
  const timer = setTimeout(() => process.kill(proc.pid, "SIGKILL"), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { code, stdout, stderr };
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
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: cleanEnv(env) });
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
