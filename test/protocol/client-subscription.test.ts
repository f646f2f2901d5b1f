import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  connect,
  DEFAULT_MAX_QUEUED_NOTIFICATIONS,
  type ObjectID,
  type ObjectNotification,
  type PlasmaClient,
  SubscriptionOverflowError,
} from "../../src/client/index.ts";
import { type StoreProcess, startStoreProcess } from "../helpers/store-process.ts";

/**
 * A subscription's queue of unread notifications is bounded: a subscriber that does not read loses its
 * subscription with a SubscriptionOverflowError after the queued notifications, and never grows the
 * queue past its bound; one that keeps up is never cut off.
 */

let store: StoreProcess;
const clients: PlasmaClient[] = [];

beforeAll(async () => {
  store = await startStoreProcess();
});

afterAll(async () => {
  for (const client of clients) await client.disconnect();
  expect(await store.stop()).toBe(0);
});

async function open(): Promise<PlasmaClient> {
  const client = await connect(store.socketPath);
  clients.push(client);
  return client;
}

/** Puts `count` objects; each put's reply comes after its seal's notification on the same connection. */
async function putMany(client: PlasmaClient, count: number): Promise<ObjectID[]> {
  const ids: ObjectID[] = [];
  for (let i = 0; i < count; i++) ids.push(await client.put(new Uint8Array([i])));
  return ids;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("bounded subscription queue", () => {
  test("a subscriber that does not read gets what was queued, then SubscriptionOverflowError", async () => {
    const client = await open();
    const notes = (await client.subscribe({ maxQueuedNotifications: 3 }))[Symbol.asyncIterator]();
    const ids = await putMany(client, 5);
    // One more round trip on the same connection: every notification of the puts has arrived.
    expect(await client.contains(ids[4] as ObjectID)).toBe(true);
    for (const id of ids.slice(0, 3)) {
      const { value } = await notes.next();
      expect((value as ObjectNotification).id.equals(id)).toBe(true);
    }
    const error = await rejection(notes.next());
    expect(error).toBeInstanceOf(SubscriptionOverflowError);
    expect((error as SubscriptionOverflowError).code).toBe("SUBSCRIPTION_OVERFLOW");
    expect((error as Error).message).toContain("maxQueuedNotifications");
    // It stays ended: later notifications are not queued.
    const later = await putMany(client, 2);
    expect(await rejection(notes.next())).toBe(error);
    // The client itself is fine, and a new subscription starts again from the objects sealed by now.
    const again = (await client.subscribe({ maxQueuedNotifications: 100 }))[Symbol.asyncIterator]();
    const { value } = await again.next();
    expect((value as ObjectNotification).id.equals(ids[0] as ObjectID)).toBe(true);
    await again.return?.();
    await client.delete([...ids, ...later]);
  });

  test("the first batch (objects already sealed) counts toward the bound", async () => {
    const producer = await open();
    const ids = await putMany(producer, 4);
    const subscriber = await open();
    const notes = (await subscriber.subscribe({ maxQueuedNotifications: 2 }))[Symbol.asyncIterator]();
    const seen: string[] = [];
    const error = await rejection(
      (async () => {
        for (;;) seen.push(((await notes.next()).value as ObjectNotification).id.hex());
      })(),
    );
    expect(error).toBeInstanceOf(SubscriptionOverflowError);
    expect(seen).toHaveLength(2);
    await producer.delete(ids);
  });

  test("a subscriber that keeps up is never cut off, even with a bound of one", async () => {
    const client = await open();
    // The earlier tests deleted what they stored: the first batch is empty.
    expect((await client.storeInfo()).objectCount).toBe(0);
    const notes = (await client.subscribe({ maxQueuedNotifications: 1 }))[Symbol.asyncIterator]();
    for (let i = 0; i < 50; i++) {
      const next = notes.next();
      const [id] = await putMany(client, 1);
      const { value, done } = await next;
      expect(done).toBe(false);
      expect((value as ObjectNotification).id.equals(id as ObjectID)).toBe(true);
      await client.delete(id as ObjectID);
      // The deletion's notification, read before the next put.
      expect(((await notes.next()).value as ObjectNotification).deleted).toBe(true);
    }
    await notes.return?.();
  });

  test("the bound must be a positive integer; the default is documented", async () => {
    const client = await open();
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      await expect(client.subscribe({ maxQueuedNotifications: bad })).rejects.toThrow(RangeError);
    }
    expect(DEFAULT_MAX_QUEUED_NOTIFICATIONS).toBe(1_000_000);
  });
});
