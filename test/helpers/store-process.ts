import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { type CommandResult, runCommand } from "./run.ts";

const CLI = join(import.meta.dir, "../../src/daemon/cli.ts");

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

/** A fresh temporary directory for sockets and files; removed by the caller. */
export function tempDir(prefix = "plasma-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Starts a real plasma_store process on a temp socket and waits until it accepts connections.
 * `args` are extra CLI flags; `-m` defaults to 64 MiB unless given.
 */
export async function startStoreProcess(
  options: { memory?: string; args?: string[]; env?: Record<string, string>; socketPath?: string } = {},
): Promise<StoreProcess> {
  const dir = tempDir();
  const socketPath = options.socketPath ?? join(dir, "plasma.sock");
  const args = ["-m", options.memory ?? String(64 * 1024 * 1024), "-s", socketPath, ...(options.args ?? [])];
  const proc = Bun.spawn(["bun", CLI, ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, PLASMA_LOG_LEVEL: "debug", ...options.env },
  });
  let text = "";
  const listeners = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      for (const l of listeners) l();
    }
  };
  void pump(proc.stdout);
  void pump(proc.stderr);

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

  const started = waitForOutput(/plasma_store started/);
  const exited = proc.exited.then((code) => {
    throw new Error(`plasma_store exited with ${code} before starting:\n${text}`);
  });
  await Promise.race([started, exited]);
  exited.catch(() => {});

  let stopped: Promise<number> | null = null;
  return {
    socketPath,
    dir,
    proc,
    output: () => text,
    waitForOutput,
    stop(signal: NodeJS.Signals = "SIGTERM") {
      stopped ??= (async () => {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
        const code = await proc.exited;
        rmSync(dir, { recursive: true, force: true });
        return code;
      })();
      return stopped;
    },
  };
}

/** Runs a Bun script (a file path) as a separate client process; resolves with its output and exit code. */
export function runClientProcess(
  script: string,
  args: string[] = [],
  options: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<CommandResult> {
  return runCommand(["bun", script, ...args], options);
}
