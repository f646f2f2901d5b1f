import { describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import {
  connect,
  ObjectAlreadySealedError,
  ObjectExistsError,
  ObjectID,
  ObjectNotAvailable,
  ObjectNotFoundError,
  PlasmaConnectionError,
  StoreFullError,
} from "../../src/client/index.ts";
import { useStore } from "../helpers/store-fixture.ts";
import { runClientProcess, startStoreProcess, tempDir } from "../helpers/store-process.ts";
import { waitUntil } from "../helpers/wait.ts";

const CLIENTS = join(import.meta.dir, "clients");
const enc = new TextEncoder();

const fx = useStore({ memory: String(64 * 1024 * 1024) });

describe("connect", () => {
  test("fails at once with the socket path when no store listens", async () => {
    const path = join(fx.store.dir, "nobody.sock");
    const error = await connect(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlasmaConnectionError);
    expect((error as Error).message).toContain(`Could not connect to socket ${path}`);
    expect((error as Error).message).toContain("plasma_store is running");
    expect((error as PlasmaConnectionError).code).toBe("CONNECTION_ERROR");
  });

  test("gives up with PlasmaConnectionError once its retries are used", async () => {
    const error = await connect(join(fx.store.dir, "late.sock"), { retries: 2, retryDelayMs: 10 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PlasmaConnectionError);
  });

  test("retries until the store is there", async () => {
    const dir = tempDir();
    const socketPath = join(dir, "late.sock");
    try {
      // Connecting starts before the store does; the store takes a while to start.
      const connecting = connect(socketPath, { retries: 600, retryDelayMs: 50 });
      const late = await startStoreProcess({ memory: "1000000", socketPath });
      try {
        const c = await connecting;
        expect(await c.storeCapacity()).toBe(1_000_000);
        await c.disconnect();
      } finally {
        expect(await late.stop()).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("reports the capacity the store was started with", async () => {
    expect(await fx.client.storeCapacity()).toBe(64 * 1024 * 1024);
    expect(fx.client.capacityBytes).toBe(64 * 1024 * 1024);
  });
});

describe("create, seal, get", () => {
  test("round trips data and metadata of many lengths", async () => {
    for (const metaLength of [0, 1, 2, 7, 63, 64, 65, 1000, 4096, 100_000]) {
      for (const dataLength of [0, 1, 100, 4097]) {
        const id = ObjectID.fromRandom();
        const metadata = Uint8Array.from({ length: metaLength }, (_, i) => (i * 7 + metaLength) & 0xff);
        const buffer = await fx.client.create(id, dataLength, metadata);
        expect(buffer.length).toBe(dataLength);
        for (let i = 0; i < dataLength; i++) buffer[i] = (i * 13) & 0xff;
        await fx.client.seal(id);
        const [entry] = await fx.client.getBuffers([id], { withMeta: true });
        expect(entry?.data.length).toBe(dataLength);
        expect(entry?.data.every((v, i) => v === ((i * 13) & 0xff))).toBe(true);
        expect(entry?.metadata).toEqual(metadata);
        const [meta] = await fx.client.getMetadata([id]);
        expect(meta).toEqual(metadata);
        await fx.client.release(id);
        await fx.client.release(id);
        // The creator's buffer held one of those references: keep it reachable until then.
        expect((buffer.buffer as ArrayBuffer).detached).toBe(true); // seal() detached the creator's buffer
      }
    }
  });

  test("createAndSeal holds no reference; getBuffers returns views on shared memory", async () => {
    const id = ObjectID.fromRandom();
    await fx.client.createAndSeal(id, enc.encode("hello"), enc.encode("m"));
    const listed = (await fx.client.list()).find((o) => o.id.equals(id));
    expect(listed?.refCount).toBe(0);
    expect(listed?.state).toBe("sealed");
    const [a] = await fx.client.getBuffers([id]);
    expect(new TextDecoder().decode(a as Uint8Array)).toBe("hello");
    expect((await fx.client.list()).find((o) => o.id.equals(id))?.refCount).toBe(1);
    await fx.client.release(id);
  });

  test("duplicate create ×1000 is ObjectExistsError each time", async () => {
    const id = ObjectID.fromRandom();
    await fx.client.createAndSeal(id, enc.encode("x"));
    const results = await Promise.allSettled(Array.from({ length: 1000 }, () => fx.client.create(id, 10)));
    expect(results.every((r) => r.status === "rejected" && r.reason instanceof ObjectExistsError)).toBe(true);
    const unsealed = ObjectID.fromRandom();
    await fx.client.create(unsealed, 10);
    await expect(fx.client.create(unsealed, 10)).rejects.toBeInstanceOf(ObjectExistsError);
    await fx.client.abort(unsealed);
  });

  test("seal and abort errors are typed", async () => {
    const id = ObjectID.fromRandom();
    await expect(fx.client.seal(id)).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(fx.client.abort(id)).rejects.toBeInstanceOf(ObjectNotFoundError);
    const buffer = await fx.client.create(id, 4);
    await fx.client.seal(id);
    await expect(fx.client.seal(id)).rejects.toBeInstanceOf(ObjectAlreadySealedError);
    await expect(fx.client.abort(id)).rejects.toBeInstanceOf(ObjectAlreadySealedError);
    await fx.client.release(id);
    await expect(fx.client.release(id)).rejects.toBeInstanceOf(ObjectNotFoundError);
    expect((buffer.buffer as ArrayBuffer).detached).toBe(true); // seal() detached the creator's buffer
  });

  test("abort frees the id for a new create", async () => {
    const id = ObjectID.fromRandom();
    await fx.client.create(id, 100);
    await fx.client.abort(id);
    expect(await fx.client.contains(id)).toBe(false);
    const buffer = await fx.client.create(id, 3);
    buffer.set([1, 2, 3]);
    await fx.client.seal(id);
    expect(await fx.client.contains(id)).toBe(true);
    await fx.client.release(id);
    expect((buffer.buffer as ArrayBuffer).detached).toBe(true); // seal() detached the creator's buffer
  });

  test("get of absent ids returns null at timeouts 0, 10, 100 and 1000 ms", async () => {
    for (const timeoutMs of [0, 10, 100, 1000]) {
      const ids = [ObjectID.fromRandom(), ObjectID.fromRandom()];
      const started = performance.now();
      const result = await fx.client.getBuffers(ids, { timeoutMs });
      expect(result).toEqual([null, null]);
      expect(performance.now() - started).toBeGreaterThanOrEqual(timeoutMs - 1);
    }
  });

  test("a mixed batch returns present objects and null for absent ones", async () => {
    const present = [ObjectID.fromRandom(), ObjectID.fromRandom()];
    for (const id of present) await fx.client.createAndSeal(id, enc.encode(id.hex()));
    const unsealed = ObjectID.fromRandom();
    await fx.client.create(unsealed, 8);
    const ids = [present[0], ObjectID.fromRandom(), present[1], unsealed] as ObjectID[];
    const result = await fx.client.getBuffers(ids, { timeoutMs: 50 });
    expect(result.map((b) => (b === null ? null : new TextDecoder().decode(b)))).toEqual([
      present[0]?.hex(),
      null,
      present[1]?.hex(),
      null,
    ] as (string | null)[]);
    for (const id of present) await fx.client.release(id);
    await fx.client.abort(unsealed);
  });

  test("a blocked multi-get completes when another process seals", async () => {
    const ids = [ObjectID.fromRandom(), ObjectID.fromRandom(), ObjectID.fromRandom()];
    const pending = fx.client.getBuffers(ids, { timeoutMs: -1, withMeta: true });
    // One connection's requests are handled in order: after this reply, the get waits in the store.
    expect(await fx.client.contains(ObjectID.fromRandom())).toBe(false);
    const sealer = await runClientProcess(join(CLIENTS, "seal-later.ts"), [
      fx.store.socketPath,
      "0",
      ...ids.map((i) => i.hex()),
    ]);
    expect(sealer.stdout).toContain("sealed 3");
    const result = await pending;
    result.forEach((entry, i) => {
      expect(entry?.data).toEqual((ids[i] as ObjectID).binary());
      expect(new TextDecoder().decode(entry?.metadata)).toBe(`meta-${ids[i]?.hex().slice(0, 4)}`);
    });
    for (const id of ids) await fx.client.release(id);
  });

  test("many concurrent calls share one connection (pipelining)", async () => {
    const ids = Array.from({ length: 500 }, () => ObjectID.fromRandom());
    await Promise.all(ids.map((id, i) => fx.client.createAndSeal(id, enc.encode(String(i)))));
    const contains = await Promise.all(ids.map((id) => fx.client.contains(id)));
    expect(contains.every(Boolean)).toBe(true);
    const buffers = await Promise.all(ids.map((id) => fx.client.getBuffers([id])));
    expect(buffers.map(([b]) => new TextDecoder().decode(b as Uint8Array))).toEqual(
      ids.map((_, i) => String(i)),
    );
    await Promise.all(ids.map((id) => fx.client.release(id)));
    expect(await fx.client.delete(ids)).toBe(500);
  });
});

describe("values", () => {
  test("put/get of structured-cloneable values", async () => {
    expect(await fx.client.get(await fx.client.put("hello, world"))).toBe("hello, world");
    const value = {
      n: 1.5,
      big: 2n ** 70n,
      date: new Date(0),
      map: new Map([["a", [1, 2]]]),
      set: new Set([1, "x"]),
      bytes: new Uint8Array([1, 2, 3]),
      nested: { list: [null, undefined, true] },
    };
    expect(await fx.client.get(await fx.client.put(value))).toEqual(value);
    const id = ObjectID.fromRandom();
    expect((await fx.client.put(42, { id })).equals(id)).toBe(true);
    expect(await fx.client.get([id, ObjectID.fromRandom()], { timeoutMs: 0 })).toEqual([
      42,
      ObjectNotAvailable,
    ]);
    expect(fx.client.heldObjectCount).toBe(0);
  });

  test("a value put by one process is read by another", async () => {
    const id = ObjectID.fromHex("ab".repeat(20));
    await fx.client.put(new Map([["answer", 42]]), { id });
    const source = ObjectID.fromRandom();
    const data = await fx.client.create(source, 5, enc.encode("meta!"));
    data.set(enc.encode("bytes"));
    await fx.client.seal(source);
    const reader = await runClientProcess(join(CLIENTS, "read-object.ts"), [
      fx.store.socketPath,
      source.hex(),
    ]);
    const [first, second] = reader.stdout.trim().split("\n");
    expect(JSON.parse(first as string)).toEqual({ data: "bytes", metadata: "meta!" });
    expect(JSON.parse(second as string)).toEqual([["answer", 42]]);
    // The creator's buffer holds the reference; it must stay reachable until released (else GC ends it).
    expect((data.buffer as ArrayBuffer).detached).toBe(true); // seal() detached the creator's buffer
    await fx.client.release(source);
  });
});

describe("hash", () => {
  test("equal for equal content, sensitive to data and metadata", async () => {
    const put = async (data: string, meta: string) => {
      const id = ObjectID.fromRandom();
      await fx.client.createAndSeal(id, enc.encode(data), enc.encode(meta));
      return fx.client.hash(id);
    };
    const h = await put("abc", "m");
    expect(h.length).toBe(8);
    expect(await put("abc", "m")).toEqual(h);
    expect(await put("abd", "m")).not.toEqual(h);
    expect(await put("abc", "n")).not.toEqual(h);
    expect(h).toEqual(expectedHash(enc.encode("abcm")));
    await expect(fx.client.hash(ObjectID.fromRandom())).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  test("2,304 objects give 2,304 distinct hashes", async () => {
    const hashes = new Set<string>();
    const ids: ObjectID[] = [];
    for (let i = 0; i < 2304; i++) {
      const id = ObjectID.fromRandom();
      ids.push(id);
      const data = new Uint8Array(16);
      new DataView(data.buffer).setUint32(0, i);
      await fx.client.createAndSeal(id, data);
    }
    const all = await Promise.all(ids.map((id) => fx.client.hash(id)));
    for (const h of all) hashes.add(Buffer.from(h).toString("hex"));
    expect(hashes.size).toBe(2304);
    await fx.client.delete(ids);
  });
});

describe("list, delete, subscribe", () => {
  test("list shows states, sizes and reference counts", async () => {
    const other = await connect(fx.store.socketPath);
    const [sealed, unsealed] = [ObjectID.fromRandom(), ObjectID.fromRandom()];
    await fx.client.create(unsealed, 10, enc.encode("abc"));
    await fx.client.createAndSeal(sealed, enc.encode("12345"));
    // Buffers hold references while reachable: keep them until the end.
    const held = [
      ...(await other.getBuffers([sealed])),
      ...(await fx.client.getBuffers([sealed])),
      ...(await fx.client.getBuffers([sealed])),
    ];
    const before = Date.now();
    const list = await fx.client.list();
    const s = list.find((o) => o.id.equals(sealed));
    const u = list.find((o) => o.id.equals(unsealed));
    expect(s).toMatchObject({ dataSize: 5, metadataSize: 0, refCount: 2, state: "sealed" });
    expect(u).toMatchObject({
      dataSize: 10,
      metadataSize: 3,
      refCount: 1,
      state: "created",
      constructDurationMs: -1,
    });
    expect(s?.constructDurationMs).toBeGreaterThanOrEqual(0);
    expect(Math.abs((s?.createTime ?? 0) - before)).toBeLessThan(60_000);
    await other.disconnect();
    const refCount = async () => (await fx.client.list()).find((o) => o.id.equals(sealed))?.refCount;
    await waitUntil(
      "the store has dropped the other client's reference",
      async () => (await refCount()) === 1,
    );
    expect(await refCount()).toBe(1);
    await fx.client.release(sealed);
    await fx.client.release(sealed);
    await fx.client.abort(unsealed);
    expect(held.length).toBe(3);
  });

  test("delete of an object in use happens at its last release; unknown ids are ignored", async () => {
    const id = ObjectID.fromRandom();
    await fx.client.createAndSeal(id, enc.encode("x"));
    await fx.client.getBuffers([id]);
    expect(await fx.client.delete([id, ObjectID.fromRandom()])).toBe(0);
    expect(await fx.client.contains(id)).toBe(true);
    await fx.client.release(id);
    // The release goes out on the next turn of the client's event loop; the delete follows it.
    await waitUntil("the object is deleted at its last release", async () => !(await fx.client.contains(id)));
    expect(await fx.client.contains(id)).toBe(false);
  });

  test("subscribe: existing objects first, then 10,000 notifications in order, then deletions", async () => {
    const sub = await connect(fx.store.socketPath);
    const existing = ObjectID.fromRandom();
    await fx.client.createAndSeal(existing, enc.encode("old"));
    const notes = await sub.subscribe();
    const iterator = notes[Symbol.asyncIterator]();
    const ids = Array.from({ length: 10_000 }, () => ObjectID.fromRandom());
    const producer = (async () => {
      for (let i = 0; i < ids.length; i += 100) {
        await Promise.all(
          ids
            .slice(i, i + 100)
            .map((id, j) => fx.client.createAndSeal(id, new Uint8Array(j % 7), enc.encode("m"))),
        );
      }
      await fx.client.delete(ids.slice(0, 10));
    })();
    const seen: string[] = [];
    let sawExisting = false;
    while (seen.length < 10_010) {
      const { value } = await iterator.next();
      if (value === undefined) break;
      if (value.id.equals(existing)) {
        // Objects sealed before subscribing come before everything sealed after.
        expect(seen.length).toBe(0);
        sawExisting = true;
      }
      const index = idIndex(ids, value.id);
      if (index < 0) continue;
      seen.push(`${index}:${value.deleted}`);
      if (!value.deleted) expect(value).toMatchObject({ dataSize: (index % 100) % 7, metadataSize: 1 });
    }
    await producer;
    expect(sawExisting).toBe(true);
    expect(seen.slice(0, 10_000)).toEqual(ids.map((_, i) => `${i}:false`));
    expect(seen.slice(10_000)).toEqual(ids.slice(0, 10).map((_, i) => `${i}:true`));
    await sub.disconnect();
    await fx.client.delete(ids);
  });
});

const indexCache = new WeakMap<ObjectID[], Map<string, number>>();
function idIndex(ids: ObjectID[], id: ObjectID): number {
  let map = indexCache.get(ids);
  if (map === undefined) {
    map = new Map(ids.map((x, i) => [x.hex(), i]));
    indexCache.set(ids, map);
  }
  return map.get(id.hex()) ?? -1;
}

function expectedHash(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, Bun.hash.xxHash64(bytes)), false);
  return out;
}

describe("memory", () => {
  test("store full at exact fractions of capacity, and an object of exactly the capacity fits twice", async () => {
    const small = await startStoreProcess({ memory: "1000000" });
    try {
      const c = await connect(small.socketPath);
      const half = ObjectID.fromRandom();
      await c.create(half, 500_000);
      await expect(c.create(ObjectID.fromRandom(), 500_001)).rejects.toBeInstanceOf(StoreFullError);
      const fifth = ObjectID.fromRandom();
      await c.create(fifth, 200_000);
      await c.abort(fifth);
      await c.abort(half);
      for (let round = 0; round < 2; round++) {
        const id = ObjectID.fromRandom();
        const buffer = await c.create(id, 999_000, new Uint8Array(1000));
        buffer.fill(round + 1);
        await c.seal(id);
        await c.release(id);
        expect((buffer.buffer as ArrayBuffer).detached).toBe(true); // seal() detached the creator's buffer
      }
      const list = await c.list();
      expect(list.length).toBe(1);
      expect(list[0]?.dataSize).toBe(999_000);
      await expect(c.create(ObjectID.fromRandom(), 1_000_001)).rejects.toThrow(
        /more than the store's whole capacity/,
      );
      await c.disconnect();
    } finally {
      expect(await small.stop()).toBe(0);
    }
  });

  test("LRU eviction order, and evict(1) frees exactly the LRU victim", async () => {
    const small = await startStoreProcess({ memory: "10000" });
    try {
      const c = await connect(small.socketPath);
      expect(await c.storeCapacity()).toBe(10000);
      const ids = Array.from({ length: 4 }, () => ObjectID.fromRandom());
      for (const id of ids) await c.createAndSeal(id, new Uint8Array(2000));
      // Touch ids[0]: now ids[1] is least recently used.
      await c.getBuffers([ids[0] as ObjectID]);
      await c.release(ids[0] as ObjectID);
      expect(await c.evict(1)).toBe(2000);
      expect(await c.contains(ids[1] as ObjectID)).toBe(false);
      expect(await c.contains(ids[0] as ObjectID)).toBe(true);
      // Needs 4000 more than the 4000 free: evicts ids[2] then ids[3].
      await c.createAndSeal(ObjectID.fromRandom(), new Uint8Array(8000));
      expect(await Promise.all(ids.map((id) => c.contains(id)))).toEqual([false, false, false, false]);
      await c.disconnect();
    } finally {
      expect(await small.stop()).toBe(0);
    }
  });

  test("a client killed during a get and during a create: the store lives and its memory comes back", async () => {
    const small = await startStoreProcess({ memory: "1000000" });
    try {
      const c = await connect(small.socketPath);
      const held = ObjectID.fromRandom();
      await c.createAndSeal(held, new Uint8Array(1000));
      for (const [state, arg] of [
        ["creating", "600000"],
        ["holding", held.hex()],
        ["getting", ObjectID.fromRandom().hex()],
      ] as const) {
        const proc = Bun.spawn(["bun", join(CLIENTS, "hold-and-wait.ts"), small.socketPath, state, arg], {
          stdout: "pipe",
        });
        const reader = proc.stdout.getReader();
        const { value } = await reader.read();
        expect(new TextDecoder().decode(value)).toContain("ready");
        const info = await c.storeInfo();
        expect(info.clientCount).toBe(2);
        proc.kill("SIGKILL");
        await proc.exited;
        await waitUntil(
          "the store has dropped the killed client",
          async () => (await c.storeInfo()).clientCount === 1,
        );
        const after = await c.list();
        expect(after.length).toBe(1);
        expect(after[0]?.refCount).toBe(0);
        expect((await c.storeInfo()).usedBytes).toBe(1024);
      }
      // All the memory is usable again.
      await c.createAndSeal(ObjectID.fromRandom(), new Uint8Array(990_000));
      await c.disconnect();
      await small.waitForOutput(/client disconnected[\s\S]*client disconnected[\s\S]*client disconnected/);
    } finally {
      expect(await small.stop()).toBe(0);
    }
  });
});
