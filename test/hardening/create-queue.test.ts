/**
 * The create path under pressure (issue 13): a create that times out behind a larger waiting create says
 * why, the queue moves on when its head gives up, and an object of exactly the capacity fits when only
 * small evictable objects stand in its way (their blocks are larger than their bytes).
 */
import { expect, test } from "bun:test";
import { connect, ObjectID, StoreFullError } from "../../src/client/index.ts";
import { useAdminStore } from "../helpers/store-fixture.ts";
import { waitUntil } from "../helpers/wait.ts";
import { storeFigures } from "./helpers.ts";

const MiB = 1024 * 1024;
const CAPACITY = 16 * MiB;
const fx = useAdminStore({ memory: String(CAPACITY) });

test("an object of exactly the capacity evicts a 1-byte object (a 64-byte block) to fit", async () => {
  const small = ObjectID.fromRandom();
  await fx.client.createAndSeal(small, new Uint8Array(1));
  const big = ObjectID.fromRandom();
  expect((await fx.client.create(big, CAPACITY)).length).toBe(CAPACITY);
  expect(await fx.client.contains(small)).toBe(false);
  await fx.client.abort(big);
  // Many small objects: the sum of their blocks, not of their bytes, is what eviction gives back.
  const smalls = Array.from({ length: 100 }, () => ObjectID.fromRandom());
  for (const id of smalls) await fx.client.createAndSeal(id, new Uint8Array(1));
  expect((await fx.client.create(big, CAPACITY)).length).toBe(CAPACITY);
  await fx.client.abort(big);
  expect(await storeFigures(fx.client, fx.admin)).toMatchObject({
    usedBytes: 0,
    objects: 0,
    invariants: "ok",
  });
});

test("a small create that times out behind a larger waiting create says it waited its turn", async () => {
  const holder = await connect(fx.store.socketPath);
  const large = await connect(fx.store.socketPath);
  const small = await connect(fx.store.socketPath);
  try {
    // The holder keeps half the store: the large create (12 MiB) cannot fit, a 1 KiB one could.
    const held = ObjectID.fromRandom();
    await holder.create(held, 8 * MiB);
    const largeId = ObjectID.fromRandom();
    const largeDone = large.create(largeId, 12 * MiB, undefined, { waitMs: -1 });
    await waitUntil(
      "the large create is queued",
      async () => (await storeFigures(fx.client, fx.admin)).waitingCreates === 1,
    );
    const error = await small
      .create(ObjectID.fromRandom(), 1024, undefined, { waitMs: 50 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreFullError);
    const message = (error as Error).message;
    expect(message).toContain("after waiting 50 ms");
    expect(message).toContain("1 waiting create that came first is ahead of it");
    expect(message).toContain(`object ${largeId.hex()}, needs ${12 * MiB} bytes`);
    expect(message).toContain("served strictly in arrival order");
    // Strict FIFO, and a create with waitMs 0 does not queue: it takes memory that is free now.
    const inline = ObjectID.fromRandom();
    expect((await small.create(inline, 1024)).length).toBe(1024);
    await small.abort(inline);
    // Others are answered meanwhile, and the large create is served once the memory comes back.
    expect(await fx.client.contains(held)).toBe(false);
    await holder.abort(held);
    expect((await largeDone).length).toBe(12 * MiB);
    await large.abort(largeId);
  } finally {
    await Promise.all([holder.disconnect(), large.disconnect(), small.disconnect()]);
  }
  expect(await storeFigures(fx.client, fx.admin)).toMatchObject({
    usedBytes: 0,
    waitingCreates: 0,
    invariants: "ok",
  });
});

test("when the head of the create queue times out, the creates behind it that fit are served", async () => {
  const holder = await connect(fx.store.socketPath);
  const large = await connect(fx.store.socketPath);
  const small = await connect(fx.store.socketPath);
  try {
    const held = ObjectID.fromRandom();
    await holder.create(held, 8 * MiB);
    const largeDone = large
      .create(ObjectID.fromRandom(), 12 * MiB, undefined, { waitMs: 50 })
      .catch((e: unknown) => e);
    await waitUntil(
      "the large create is queued",
      async () => (await storeFigures(fx.client, fx.admin)).waitingCreates === 1,
    );
    const smallId = ObjectID.fromRandom();
    const smallDone = small.create(smallId, 1024, undefined, { waitMs: -1 });
    await waitUntil(
      "the small create is queued",
      async () => (await storeFigures(fx.client, fx.admin)).waitingCreates === 2,
    );
    const largeError = await largeDone;
    expect(largeError).toBeInstanceOf(StoreFullError);
    expect((largeError as Error).message).not.toContain("ahead of it");
    // Nothing was released: the small create is served because the head left the queue.
    expect((await smallDone).length).toBe(1024);
    await small.abort(smallId);
    await holder.abort(held);
  } finally {
    await Promise.all([holder.disconnect(), large.disconnect(), small.disconnect()]);
  }
  expect(await storeFigures(fx.client, fx.admin)).toMatchObject({
    usedBytes: 0,
    waitingCreates: 0,
    invariants: "ok",
  });
});
