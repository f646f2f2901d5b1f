import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect, ObjectID, type PlasmaClient, StoreFullError } from "../../src/client/index.ts";
import { useAdminStore } from "../helpers/store-fixture.ts";
import { waitUntil } from "../helpers/wait.ts";
import { storeInvariants } from "./helpers.ts";

const CAPACITY = 1024 * 1024;
// The fixture's client holds the memory the waiters wait for; the admin plane counts the waiting creates.
const fx = useAdminStore({ memory: String(CAPACITY) });
const waitingCreates = async () => (await fx.admin.stats()).waitingCreates;
const waiters: PlasmaClient[] = [];

beforeAll(async () => {
  for (let i = 0; i < 3; i++) waiters.push(await connect(fx.store.socketPath));
});

afterAll(async () => {
  for (const c of waiters) await c.disconnect();
});

test("creates with waitMs wait for memory held by others and are served in FIFO order", async () => {
  // The holder fills the store with an object it keeps a reference to: nothing can be evicted.
  const full = ObjectID.fromRandom();
  // The holder's reference lives as long as its buffer: `fullBuffer` stays reachable until the release.
  const fullBuffer = await fx.client.create(full, CAPACITY);
  fullBuffer.fill(1);
  await fx.client.seal(full);
  expect(await waiters[0]?.create(ObjectID.fromRandom(), 1000).catch((e: unknown) => e)).toBeInstanceOf(
    StoreFullError,
  );

  // Three clients queue creates larger than half the store: only one fits at a time.
  const size = CAPACITY / 2 + 4096;
  const ids = waiters.map(() => ObjectID.fromRandom());
  const served: number[] = [];
  const pending = waiters.map(async (client, i) => {
    await waitUntil(`create ${i} is queued behind ${i} others`, async () =>
      served.length === 0 ? (await waitingCreates()) === i : true,
    );
    const buffer = await client.create(ids[i] as ObjectID, size, undefined, { waitMs: -1 });
    served.push(i);
    return buffer;
  });
  await waitUntil("3 creates wait", async () => (await waitingCreates()) === 3);
  expect(served).toEqual([]);

  // Releasing and deleting the big object frees the store: the first in line gets it, the others wait.
  await fx.client.release(full);
  expect((fullBuffer.buffer as ArrayBuffer).detached).toBe(true); // seal() detached the creator's buffer
  await fx.client.delete(full);
  const first = await pending[0];
  expect(first?.length).toBe(size);
  expect(await waitingCreates()).toBe(2);
  expect(served).toEqual([0]);

  // Each abort lets exactly the next in line through.
  await waiters[0]?.abort(ids[0] as ObjectID);
  expect((await pending[1])?.length).toBe(size);
  expect(await waitingCreates()).toBe(1);
  await waiters[1]?.abort(ids[1] as ObjectID);
  expect((await pending[2])?.length).toBe(size);
  expect(served).toEqual([0, 1, 2]);
  await waiters[2]?.abort(ids[2] as ObjectID);
  expect(await fx.admin.stats()).toMatchObject({ usedBytes: 0, waitingCreates: 0 });
  expect(await storeInvariants(fx.client)).toBe("ok");
});

test("a waiting create fails with StoreFullError after waitMs; the store is unchanged", async () => {
  const full = ObjectID.fromRandom();
  await fx.client.create(full, CAPACITY);
  const error = await waiters[0]
    ?.create(ObjectID.fromRandom(), 1000, undefined, { waitMs: 300 })
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(StoreFullError);
  expect((error as Error).message).toContain("after waiting 300 ms");
  expect(await waitingCreates()).toBe(0);
  // A waiter that timed out is gone from the queue: freeing memory now serves the next create at once.
  await fx.client.abort(full);
  const id = ObjectID.fromRandom();
  expect((await waiters[1]?.create(id, 1000, undefined, { waitMs: 300 }))?.length).toBe(1000);
  await waiters[1]?.abort(id);
  expect((await fx.client.storeInfo()).usedBytes).toBe(0);
  expect(await storeInvariants(fx.client)).toBe("ok");
});

test("a waiting create is dropped when its client disconnects; the next waiter is served", async () => {
  const full = ObjectID.fromRandom();
  await fx.client.create(full, CAPACITY);
  const quitter = await connect(fx.store.socketPath);
  const dropped = quitter
    .create(ObjectID.fromRandom(), 1000, undefined, { waitMs: -1 })
    .catch((e: unknown) => e);
  await waitUntil("1 create waits", async () => (await waitingCreates()) === 1);
  const next = waiters[2]?.create(ObjectID.fromRandom(), 2000, undefined, { waitMs: -1 });
  await waitUntil("2 creates wait", async () => (await waitingCreates()) === 2);
  await quitter.disconnect();
  expect(((await dropped) as Error).name).toBe("PlasmaConnectionError");
  await waitUntil("the quitter's create is gone", async () => (await waitingCreates()) === 1);
  await fx.client.abort(full);
  expect((await next)?.length).toBe(2000);
  const stats = await fx.admin.stats();
  expect(stats).toMatchObject({ objectsCreated: 1, objectsSealed: 0, waitingCreates: 0 });
  expect(stats.usedBytes).toBeGreaterThanOrEqual(2000);
  expect(await storeInvariants(fx.client)).toBe("ok");
});
