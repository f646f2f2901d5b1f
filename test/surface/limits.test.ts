// The defaults of plasma_store's --max-* flags, on stores started without any of them: exactly the default
// is served, one past it is refused for that request only (LimitExceededError), the connection stays up.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import {
  connect,
  LimitExceededError,
  ObjectID,
  type PlasmaClient,
  PlasmaConnectionError,
  StoreFullError,
} from "../../src/client/index.ts";
import { adminHttp, MiB, type SurfaceStore, startStore, stopAll, waitUntil } from "./helpers.ts";

const CAPACITY_BYTES = 16 * MiB;

async function stat(store: SurfaceStore, field: "waitingGets" | "waitingCreates"): Promise<number> {
  return ((await adminHttp(store, "/v1/stats")).body as Record<typeof field, number>)[field];
}

function expectLimit(error: unknown, text: string): void {
  expect(error).toBeInstanceOf(LimitExceededError);
  expect((error as LimitExceededError).code).toBe("LIMIT_EXCEEDED");
  expect((error as Error).message).toContain(text);
}

describe("a store without --max-* flags", () => {
  let store: SurfaceStore;
  const clients: PlasmaClient[] = [];
  const open = async () => {
    const client = await connect(store.socketPath);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    store = await startStore({ admin: "http", memory: String(CAPACITY_BYTES) });
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.disconnect();
    await waitUntil("the clients are gone", async () => {
      const stats = (await adminHttp(store, "/v1/stats")).body as { connectedClients: number };
      return stats.connectedClients === 0;
    });
  });
  afterAll(stopAll);

  test("--max-object-size defaults to the capacity: an object of exactly the capacity fits", async () => {
    const client = await open();
    const id = ObjectID.fromRandom();
    const buffer = await client.create(id, CAPACITY_BYTES - 10, new Uint8Array(10));
    expect(buffer.length).toBe(CAPACITY_BYTES - 10);
    await client.abort(id);
    const over = await client.create(ObjectID.fromRandom(), CAPACITY_BYTES + 1).catch((e: unknown) => e);
    expect(over).toBeInstanceOf(StoreFullError);
    expect((over as Error).message).toContain(`the store's whole capacity of ${CAPACITY_BYTES}`);
    expect(await client.contains(id)).toBe(false);
  });

  test("--max-pending-gets defaults to 1024 blocked gets per client", async () => {
    const client = await open();
    const blocked = Array.from({ length: 1024 }, () =>
      client.getBuffers([ObjectID.fromRandom()]).catch((e: unknown) => e),
    );
    await waitUntil("1024 gets wait", async () => (await stat(store, "waitingGets")) === 1024);
    expectLimit(
      await client.getBuffers([ObjectID.fromRandom()]).catch((e: unknown) => e),
      "1024 gets waiting",
    );
    // Only that request failed: the connection serves the next one, and another client may wait too.
    expect(await client.getBuffers([ObjectID.fromRandom()], { timeoutMs: 0 })).toEqual([null]);
    const other = await open();
    const id = ObjectID.fromRandom();
    const waiting = other.getBuffers([id]);
    await waitUntil("1025 gets wait", async () => (await stat(store, "waitingGets")) === 1025);
    await other.createAndSeal(id, new Uint8Array([5]));
    const [view] = await waiting;
    expect([...(view ?? [])]).toEqual([5]);
    await other.release(id);
    expect(await other.delete(id)).toBe(1);
    await client.disconnect();
    for (const result of await Promise.all(blocked)) expect(result).toBeInstanceOf(PlasmaConnectionError);
  });

  test("--max-pending-creates defaults to 64 creates per client waiting for memory", async () => {
    const holder = await open();
    const waiter = await open();
    const big = ObjectID.fromRandom();
    await holder.create(big, CAPACITY_BYTES);
    const waits = Array.from({ length: 64 }, () =>
      waiter.create(ObjectID.fromRandom(), 1000, undefined, { waitMs: -1 }),
    );
    await waitUntil("64 creates wait", async () => (await stat(store, "waitingCreates")) === 64);
    const over = await waiter
      .create(ObjectID.fromRandom(), 1000, undefined, { waitMs: -1 })
      .catch((e: unknown) => e);
    expectLimit(over, "64 creates waiting");
    await holder.abort(big);
    for (const buffer of await Promise.all(waits)) expect(buffer.length).toBe(1000);
  });
});

describe("--max-clients", () => {
  afterAll(stopAll);

  test("defaults to 1024 connected clients", async () => {
    const store = await startStore({ admin: "off", memory: "1MiB" });
    const clients: PlasmaClient[] = [];
    try {
      while (clients.length < 1024) clients.push(await connect(store.socketPath));
      expect((await (clients[0] as PlasmaClient).storeInfo()).clientCount).toBe(1024);
      expectLimit(await connect(store.socketPath).catch((e: unknown) => e), "--max-clients 1024");
      // The refused one disturbs nobody, and a freed slot is taken again.
      await (clients.pop() as PlasmaClient).disconnect();
      await waitUntil(
        "a slot is free",
        async () => (await (clients[0] as PlasmaClient).storeInfo()).clientCount === 1023,
      );
      clients.push(await connect(store.socketPath));
      expect((await (clients[1] as PlasmaClient).storeInfo()).clientCount).toBe(1024);
    } finally {
      for (const client of clients) await client.disconnect();
    }
  });
});
