/** Starts fixtures/transfer-source.ts as a child process and reads where it listens. */

import { join } from "node:path";
import type { Subprocess } from "bun";
import { ObjectID } from "../../src/protocol/object-id.ts";
import { testEnv } from "../helpers/run.ts";

export const CHILD_TOKEN = "child-token";

export interface SourceProcess {
  proc: Subprocess<"ignore", "pipe", "inherit">;
  port: number;
  id: ObjectID;
  /** Kills the child (continuing it first if it was stopped) and waits for it to exit. */
  kill(): Promise<void>;
}

export async function startSourceProcess(sizeBytes: number, seed: number): Promise<SourceProcess> {
  const script = join(import.meta.dir, "fixtures", "transfer-source.ts");
  const proc = Bun.spawn([process.execPath, script, String(sizeBytes), String(seed)], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "inherit",
    env: testEnv(),
  });
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the source process exited before it listened: ${text}`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const line = JSON.parse(text.slice(0, text.indexOf("\n"))) as { port: number; id: string };
  return {
    proc,
    port: line.port,
    id: ObjectID.fromHex(line.id),
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGCONT");
        proc.kill("SIGKILL");
      }
      await proc.exited;
    },
  };
}
