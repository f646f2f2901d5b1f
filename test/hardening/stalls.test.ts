/**
 * Nothing a client or scraper sends stalls the event loop (issue 13): large hashes run in a worker (and
 * are cached, one computation per object), debugString costs the same for any number of objects, and a
 * /metrics scrape does not measure the whole arena. Proven by what the store answers and in which order,
 * never by timing.
 */
import { expect, test } from "bun:test";
import { connect, ObjectID, type PlasmaClient } from "../../src/client/index.ts";
import { DEBUG_STRING_CHECK_MAX_OBJECTS } from "../../src/store/debug-string.ts";
import { useAdminStore } from "../helpers/store-fixture.ts";
import { waitUntil } from "../helpers/wait.ts";
import { storeFigures } from "./helpers.ts";

const MiB = 1024 * 1024;
const fx = useAdminStore({ memory: String(320 * MiB) });

interface HashFigures {
  computed: number;
  cached: number;
  running: number;
}

async function hashFigures(client: PlasmaClient): Promise<HashFigures> {
  const text = await client.debugString();
  const m = /^hashes: (\d+) computed off the event loop, (\d+) from cache, (\d+) running$/m.exec(text);
  if (m === null) throw new Error(`no hashes line in debugString:\n${text}`);
  return { computed: Number(m[1]), cached: Number(m[2]), running: Number(m[3]) };
}

/** The Hash reply's format: XXH64 of data then metadata, 8 bytes big-endian. */
function xxh64(data: Uint8Array, metadata = new Uint8Array(0)): Uint8Array {
  const all = new Uint8Array(data.length + metadata.length);
  all.set(data);
  all.set(metadata, data.length);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(Bun.hash.xxHash64(all))), false);
  return out;
}

/** A sealed object of `sizeBytes` with a byte pattern seeded by `seed`; returns its expected digest. */
async function sealedObject(client: PlasmaClient, id: ObjectID, sizeBytes: number, seed: number) {
  const metadata = new TextEncoder().encode(`seed ${seed}`);
  const buffer = await client.create(id, sizeBytes, metadata);
  const words = new Uint32Array(buffer.buffer, buffer.byteOffset, sizeBytes / 4);
  for (let i = 0; i < words.length; i += 1024) words[i] = i ^ seed;
  const digest = xxh64(buffer, metadata);
  await client.seal(id);
  await client.release(id);
  return digest;
}

test("a 200 MiB hash runs off the event loop: the same and other clients are answered before it", async () => {
  const a = await connect(fx.store.socketPath);
  const b = await connect(fx.store.socketPath);
  try {
    const big = ObjectID.fromRandom();
    const expected = await sealedObject(fx.client, big, 200 * MiB, 1);
    const small = ObjectID.fromRandom();
    await fx.client.createAndSeal(small, new Uint8Array([1, 2, 3]));
    const order: string[] = [];
    // One write carries both requests: an inline hash would answer the hash first.
    const hashed = a.hash(big).then((digest) => {
      order.push("a hash");
      return digest;
    });
    expect(await a.contains(small)).toBe(true);
    order.push("a contains");
    // The hash is still running when another client asks: its debugString says so.
    expect((await hashFigures(b)).running).toBe(1);
    order.push("b debugString");
    expect(await b.contains(big)).toBe(true);
    const [view] = await b.getBuffers([small]);
    expect([...(view ?? [])]).toEqual([1, 2, 3]);
    await b.release(small);
    order.push("b get");
    expect(await hashed).toEqual(expected);
    expect(order).toEqual(["a contains", "b debugString", "b get", "a hash"]);
    // The reference the hash held is given back: the object can be deleted now.
    expect(await fx.client.delete([big, small])).toBe(2);
  } finally {
    await Promise.all([a.disconnect(), b.disconnect()]);
  }
  await waitUntil("the other clients have left", async () => (await fx.client.storeInfo()).clientCount === 1);
  expect(await storeFigures(fx.client, fx.admin)).toMatchObject({
    usedBytes: 0,
    clients: 1,
    invariants: "ok",
  });
});

test("thousands of hash requests of one object make one computation; the digest is cached until the object goes", async () => {
  const a = await connect(fx.store.socketPath);
  const b = await connect(fx.store.socketPath);
  try {
    const id = ObjectID.fromRandom();
    const expected = await sealedObject(fx.client, id, 32 * MiB, 2);
    const before = await hashFigures(fx.client);
    const digests = await Promise.all([
      ...Array.from({ length: 2000 }, () => a.hash(id)),
      ...Array.from({ length: 500 }, () => b.hash(id)),
    ]);
    for (const digest of digests) expect(digest).toEqual(expected);
    const after = await hashFigures(fx.client);
    expect(after.computed - before.computed).toBe(1);
    expect(after.running).toBe(0);
    expect(await a.hash(id)).toEqual(expected);
    expect((await hashFigures(fx.client)).cached).toBe(after.cached + 1);
    // Every reference the hashes held was given back: delete removes it at once.
    expect(await fx.client.delete(id)).toBe(1);
    // Same id, other bytes: the cached digest went with the object.
    const again = await sealedObject(fx.client, id, 32 * MiB, 3);
    expect(again).not.toEqual(expected);
    expect(await b.hash(id)).toEqual(again);
    expect((await hashFigures(fx.client)).computed).toBe(after.computed + 1);
    expect(await fx.client.delete(id)).toBe(1);
  } finally {
    await Promise.all([a.disconnect(), b.disconnect()]);
  }
  await waitUntil("the other clients have left", async () => (await fx.client.storeInfo()).clientCount === 1);
  expect(await storeFigures(fx.client, fx.admin)).toMatchObject({
    usedBytes: 0,
    clients: 1,
    invariants: "ok",
  });
});

test("an object being hashed cannot be deleted under the hash; a hasher that leaves harms no one", async () => {
  const a = await connect(fx.store.socketPath);
  const id = ObjectID.fromRandom();
  const expected = await sealedObject(fx.client, id, 64 * MiB, 4);
  // Both requests in one write: the delete finds the object held by the hash and only marks it.
  const hashed = a.hash(id);
  expect(await a.delete(id)).toBe(0);
  expect(await hashed).toEqual(expected);
  expect(await fx.client.contains(id)).toBe(false);

  const other = ObjectID.fromRandom();
  const otherDigest = await sealedObject(fx.client, other, 64 * MiB, 5);
  void a.hash(other).catch(() => undefined);
  await a.disconnect();
  expect(await fx.client.hash(other)).toEqual(otherDigest);
  expect(await fx.client.delete(other)).toBe(1);
  await waitUntil("the other clients have left", async () => (await fx.client.storeInfo()).clientCount === 1);
  expect(await storeFigures(fx.client, fx.admin)).toMatchObject({
    usedBytes: 0,
    clients: 1,
    invariants: "ok",
  });
});

test("debugString of 100k objects has the length of one of ten, and says the full check was skipped", async () => {
  const small = (await fx.client.debugString()).length;
  const ids = Array.from({ length: 100_000 }, () => ObjectID.fromRandom());
  const empty = new Uint8Array(0);
  for (let i = 0; i < ids.length; i += 2000) {
    await Promise.all(ids.slice(i, i + 2000).map((id) => fx.client.createAndSeal(id, empty)));
  }
  const text = await fx.client.debugString();
  expect(text.length).toBeLessThan(small + 200);
  expect(text).toContain("objects: 100000 (0 being created, 100000 sealed)");
  expect(/^invariants: (.*)$/m.exec(text)?.[1]).toBe(
    `not checked (100000 objects, over the ${DEBUG_STRING_CHECK_MAX_OBJECTS} a debugString checks without stalling other clients)`,
  );
  for (let i = 0; i < ids.length; i += 10_000) await fx.client.delete(ids.slice(i, i + 10_000));
  // At the limit the full check runs again.
  const some = ids.slice(0, DEBUG_STRING_CHECK_MAX_OBJECTS);
  await Promise.all(some.map((id) => fx.client.createAndSeal(id, empty)));
  expect(await storeFigures(fx.client, fx.admin)).toMatchObject({ objects: some.length, invariants: "ok" });
  await fx.client.delete(some);
  expect(await storeFigures(fx.client, fx.admin)).toMatchObject({
    usedBytes: 0,
    objects: 0,
    invariants: "ok",
  });
});

test("/metrics scrapes share one sliced measurement of the arena instead of each running mincore over it", async () => {
  const scrape = async () => {
    const text = await (await fetch(`http://${fx.http}/metrics`, { headers: fx.headers() })).text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
    return {
      sweeps: value("plasma_arena_residency_sweeps_total"),
      faulted: value("plasma_arena_faulted_bytes"),
    };
  };
  const first = await scrape();
  expect(first.faulted).toBeGreaterThan(0);
  const scrapes = await Promise.all(Array.from({ length: 20 }, scrape));
  const last = await scrape();
  // 21 scrapes, at most two measurements (one more only if 5 s passed since the previous one).
  expect(last.sweeps - first.sweeps).toBeLessThanOrEqual(2);
  for (const s of scrapes) expect(s.faulted).toBeGreaterThan(0);
  expect(await fx.client.contains(ObjectID.fromRandom())).toBe(false);
});
