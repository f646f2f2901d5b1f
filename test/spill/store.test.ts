/** Spilling through the CLI and the client API (issue 16): Plasma's external-store test, delete, hash. */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { connect, ObjectID } from "../../src/client/index.ts";
import { startStoreProcess } from "../helpers/store-process.ts";
import { waitUntil } from "../helpers/wait.ts";
import { patternBytes, putObject, readBack, spillDir } from "./helpers.ts";

const KIB = 1024;

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let x = seed;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) >>> 0;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe("Plasma's external-store test", () => {
  const dir = spillDir();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("a 1000 KiB store spills 20 objects of 100 KiB and reads them all back, in any order, twice", async () => {
    const store = await startStoreProcess({ memory: "1000KiB", args: ["--spill-dir", dir] });
    const client = await connect(store.socketPath);
    try {
      const ids = Array.from({ length: 20 }, () => ObjectID.fromRandom());
      const contents = ids.map((_, i) => patternBytes(100 * KIB, i + 1));
      for (const [i, id] of ids.entries())
        await putObject(client, id, contents[i] as Uint8Array, new Uint8Array(0));
      const states = (await client.list()).map((o) => o.state);
      expect(states.length).toBe(20);
      expect(states.filter((s) => s === "spilled").length).toBeGreaterThanOrEqual(10);
      for (const id of ids) expect(await client.contains(id)).toBe(true);
      for (const round of [1, 2]) {
        for (const i of shuffled([...ids.keys()], round)) {
          expect(await readBack(client, ids[i] as ObjectID)).toEqual(contents[i] as Uint8Array);
        }
      }
      // Concurrent gets of spilled objects share restores and all answer byte-identical. Four gets each of
      // five objects that are on disk now: the five fit in memory together (twenty would not: held at once,
      // they would make a restore fail with StoreFullError, as documented).
      const spilled = (await client.list()).filter((o) => o.state === "spilled").slice(0, 5);
      expect(spilled.length).toBe(5);
      const chosen = spilled.map((o) => ids.findIndex((id) => id.equals(o.id)));
      const asked = chosen.flatMap((i) => [i, i, i, i]);
      const all = await Promise.all(asked.map((i) => readBack(client, ids[i] as ObjectID)));
      for (const [n, bytes] of all.entries())
        expect(bytes).toEqual(contents[asked[n] as number] as Uint8Array);
    } finally {
      await client.disconnect();
      expect(await store.stop()).toBe(0);
    }
  });
});

describe("spilled objects", () => {
  const dir = spillDir();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("hash, getMetadata, subscribe and delete work on a spilled object; delete removes its file", async () => {
    const store = await startStoreProcess({ memory: "1MiB", args: ["--spill-dir", dir] });
    const client = await connect(store.socketPath);
    try {
      const id = ObjectID.fromRandom();
      const data = patternBytes(300 * KIB, 7);
      const metadata = new TextEncoder().encode("meta of a spilled object");
      await putObject(client, id, data, metadata);
      const inMemoryHash = await client.hash(id);
      expect(await client.evict(1024 * KIB)).toBeGreaterThan(0);
      await waitUntil("the object is spilled", async () =>
        (await client.list()).some((o) => o.state === "spilled"),
      );
      const file = join(dir, `${id.hex()}.spill`);
      expect(existsSync(file)).toBe(true);
      const expected = new Uint8Array(8);
      const both = new Uint8Array(data.length + metadata.length);
      both.set(data);
      both.set(metadata, data.length);
      new DataView(expected.buffer).setBigUint64(0, BigInt(Bun.hash.xxHash64(both)), false);
      expect(await client.hash(id)).toEqual(expected);
      expect(inMemoryHash).toEqual(expected);
      expect(await client.getMetadata([id], { timeoutMs: 0 })).toEqual([metadata]);
      // Restored by getMetadata: its file is gone; spill it again, then delete it while spilled.
      expect(existsSync(file)).toBe(false);
      await client.evict(1024 * KIB);
      await waitUntil("the object is spilled", async () =>
        (await client.list()).some((o) => o.state === "spilled"),
      );
      expect(await client.delete(id)).toBe(1);
      expect(await client.contains(id)).toBe(false);
      await waitUntil("its file is removed", () => !existsSync(file));
      expect(readdirSync(dir).filter((name) => name.endsWith(".spill"))).toEqual([]);
    } finally {
      await client.disconnect();
      expect(await store.stop()).toBe(0);
    }
  });
});
