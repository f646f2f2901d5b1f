/**
 * The directory integrated in a real store (issue 15's proof): reader processes get, verify and release
 * random objects through the directory while a writer process creates, seals, deletes and evicts in a store
 * so small that memory is reused constantly; readers are SIGKILLed and restarted meanwhile. Zero
 * mismatches, the store never dies, and afterwards its accounting is exact.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { connect } from "../../src/client/index.ts";
import { startStoreProcess } from "../helpers/store-process.ts";
import { waitUntil } from "../helpers/wait.ts";

const CLIENTS = join(import.meta.dir, "store-clients");
/** 8 readers as the issue asks; each does a bounded number of gets. */
const READERS = 8;
const READER_OPS = 6_000;
const WRITER_OPS = 12_000;
const KILLS = 6;

interface Reader {
  proc: Subprocess<"ignore", "pipe", "inherit">;
  output: Promise<string>;
}

function startReader(socketPath: string, seed: number): Reader {
  const proc = Bun.spawn(["bun", join(CLIENTS, "reader.ts"), socketPath, String(READER_OPS), String(seed)], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "inherit",
  });
  return { proc, output: new Response(proc.stdout).text() };
}

test("8 readers, a writer reusing memory, readers SIGKILLed: no mismatch, exact accounting", async () => {
  const store = await startStoreProcess({ memory: "1MiB" });
  try {
    const writer = Bun.spawn(["bun", join(CLIENTS, "writer.ts"), store.socketPath, String(WRITER_OPS)], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "inherit",
    });
    const writerOutput = new Response(writer.stdout).text();
    let seed = 1;
    const readers: Reader[] = [];
    for (let i = 0; i < READERS; i++) readers.push(startReader(store.socketPath, seed++));
    const finished: Reader[] = [];
    let kills = 0;
    while (kills < KILLS && writer.exitCode === null) {
      await Bun.sleep(250);
      const victim = readers.shift() as Reader;
      victim.proc.kill("SIGKILL");
      await victim.proc.exited;
      kills++;
      finished.push(victim);
      readers.push(startReader(store.socketPath, seed++));
    }
    expect(await writer.exited).toBe(0);
    for (const reader of readers) expect(await reader.proc.exited).toBe(0);
    const outputs = [...(await Promise.all([...finished, ...readers].map((r) => r.output)))];
    const text = outputs.join("");
    expect(text).not.toContain("MISMATCH");
    const summaries = readers.map((_, i) => JSON.parse((outputs[finished.length + i] as string).trim()));
    const hits = summaries.reduce((sum, s) => sum + s.hits, 0);
    expect(summaries.every((s) => s.mismatches === 0)).toBe(true);
    expect(hits).toBeGreaterThan(0);
    const written = JSON.parse((await writerOutput).trim());
    expect(written.created).toBeGreaterThan(1000);
    expect(kills).toBe(KILLS);
    expect(store.proc.exitCode).toBeNull();

    // The writer deleted every id at its end; deletes waiting for pins of killed readers go too.
    const checker = await connect(store.socketPath);
    await waitUntil("every object is gone", async () => (await checker.storeInfo()).objectCount === 0);
    expect(await checker.storeInfo()).toMatchObject({ usedBytes: 0, objectCount: 0, clientCount: 1 });
    expect(await checker.list()).toEqual([]);
    await checker.disconnect();
    expect(store.output()).not.toMatch(/internal error|invariant/i);
  } finally {
    expect(await store.stop()).toBe(0);
  }
});
