/** Helper processes the benchmark starts: wait for their "ready" line, talk over stdin/stdout lines. */
import type { Subprocess } from "bun";

export interface LineChild {
  readonly proc: Subprocess<"pipe", "pipe", "inherit">;
  /** The next line the child prints. */
  nextLine(): Promise<string>;
  send(line: string): void;
  stop(): Promise<void>;
}

export function spawnLineChild(cmd: string[], env?: Record<string, string>): LineChild {
  const proc = Bun.spawn(cmd, {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
    env: { ...process.env, ...env },
  });
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  let ended = false;
  void (async () => {
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of proc.stdout) {
      buffered += decoder.decode(chunk, { stream: true });
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const waiter = waiting.shift();
        if (waiter !== undefined) waiter(line);
        else lines.push(line);
      }
    }
    ended = true;
    for (const waiter of waiting.splice(0)) waiter("");
  })();
  return {
    proc,
    nextLine() {
      const line = lines.shift();
      if (line !== undefined) return Promise.resolve(line);
      if (ended) return Promise.reject(new Error(`${cmd.join(" ")} exited`));
      return new Promise((resolve) => waiting.push(resolve));
    },
    send(line: string) {
      proc.stdin.write(`${line}\n`);
      proc.stdin.flush();
    },
    async stop() {
      try {
        proc.stdin.end();
      } catch {
        // Already closed.
      }
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}

/** Waits for a line equal to `expected`, failing with what came instead. */
export async function expectLine(child: LineChild, expected: string): Promise<void> {
  const line = await child.nextLine();
  if (line !== expected) throw new Error(`expected "${expected}" from ${child.proc.pid}, got "${line}"`);
}
