import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, LimitExceededError, ObjectID, type PlasmaClient } from "../../src/client/index.ts";
import { ByteWriter } from "../../src/protocol/bytes.ts";
import {
  LIST_ENTRIES_PER_FRAME,
  ListCodec,
  MessageType,
  NOTES_PER_FRAME,
  SubscribeCodec,
} from "../../src/protocol/codecs/index.ts";
import { FLAG_MORE, FLAG_REPLY } from "../../src/protocol/frame.ts";
import { MAX_FRAME_BODY_BYTES } from "../../src/protocol/limits.ts";
import { type AdminStoreFixture, useAdminStore } from "../helpers/store-fixture.ts";
import { waitUntil } from "../helpers/wait.ts";
import { fdCount, storeFigures } from "./helpers.ts";
import { fillWithEmptyObjects, RawClient } from "./raw-client.ts";

const MiB = 1024 * 1024;

/** The store is back to its baseline: no objects, no waiting gets, only the fixture's client, its descriptors. */
async function expectBaseline(fx: AdminStoreFixture, baselineFds: number): Promise<void> {
  const client: PlasmaClient = fx.client;
  const pid = fx.store.proc.pid;
  await waitUntil(
    "the extra clients are gone",
    async () => (await storeFigures(client, fx.admin)).clients === 1,
  );
  const figures = await storeFigures(client, fx.admin);
  expect(figures).toMatchObject({ objects: 0, usedBytes: 0, waitingGets: 0, invariants: "ok" });
  await waitUntil("the store's descriptors are back to baseline", () => fdCount(pid) === baselineFds);
}

describe("a store without --max-* flags: going past a default limit is a LimitExceededError", () => {
  const fx = useAdminStore({ memory: String(16 * MiB) });
  let client: PlasmaClient;
  beforeAll(async () => {
    client = await connect(fx.store.socketPath);
  });
  afterAll(async () => {
    await client.disconnect();
  });

  test("--max-ids-per-request defaults to 100000: 100001 ids is LimitExceededError, the connection stays up", async () => {
    const ids = Array.from({ length: 100_001 }, () => ObjectID.fromRandom());
    for (const call of [
      () => client.getBuffers(ids, { timeoutMs: 0 }),
      () => client.getMetadata(ids, { timeoutMs: 0 }),
      () => client.delete(ids),
    ]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LimitExceededError);
      expect((error as LimitExceededError).code).toBe("LIMIT_EXCEEDED");
      expect((error as Error).message).toContain("--max-ids-per-request");
    }
    expect(await client.getMetadata(ids.slice(0, 100_000), { timeoutMs: 0 })).toEqual(
      new Array(100_000).fill(null),
    );
  });

  test("--max-metadata-size defaults to 1 MiB: 1 MiB + 1 is LimitExceededError, the connection stays up", async () => {
    const error = await client
      .create(ObjectID.fromRandom(), 10, new Uint8Array(MiB + 1))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LimitExceededError);
    expect((error as Error).message).toContain("--max-metadata-size");
    const id = ObjectID.fromRandom();
    await client.createAndSeal(id, new Uint8Array(3), new Uint8Array(MiB).fill(7));
    expect((await client.getMetadata([id]))[0]?.length).toBe(MiB);
    expect(await client.delete(id)).toBe(1);
    const figures = await storeFigures(fx.client, fx.admin);
    expect(figures.objects).toBe(0);
    expect(figures.invariants).toBe("ok");
  });
});

describe("getMetadata and get replies larger than a frame", () => {
  const fx = useAdminStore({ memory: String(128 * MiB) });
  let baselineFds = 0;
  const ids = Array.from({ length: 70 }, () => ObjectID.fromRandom());
  const metadataOf = (i: number) => new Uint8Array(MiB).fill(i + 1);

  beforeAll(async () => {
    await fx.admin.stats(); // the admin plane's own connection is part of the baseline
    baselineFds = fdCount(fx.store.proc.pid);
    for (const [i, id] of ids.entries()) await fx.client.createAndSeal(id, new Uint8Array(1), metadataOf(i));
  });

  test("70 objects of 1 MiB metadata: LimitExceededError naming the frame limit, the connection stays up", async () => {
    const error = await fx.client.getMetadata(ids).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LimitExceededError);
    expect((error as Error).message).toContain(`limit of one reply frame (${MAX_FRAME_BODY_BYTES} bytes)`);
    // The same connection answers the next requests correctly: nothing of the refused reply is left.
    const sixty = await fx.client.getMetadata(ids.slice(0, 60));
    expect(sixty.length).toBe(60);
    for (const [i, metadata] of sixty.entries()) expect(metadata).toEqual(metadataOf(i));
    expect(await fx.client.contains(ids[69] as ObjectID)).toBe(true);
    expect((await storeFigures(fx.client, fx.admin)).invariants).toBe("ok");
  });

  test("completed by another client's seal: only the waiting client gets the error; the sealer and other waiters are served", async () => {
    const waiter = await connect(fx.store.socketPath);
    const bystander = await connect(fx.store.socketPath);
    const sealer = await connect(fx.store.socketPath);
    const late = ObjectID.fromRandom();
    const tooLarge = waiter.getMetadata([...ids, late]).catch((e: unknown) => e);
    const bystanderGet = bystander.getBuffers([late]);
    const bystanderMeta = bystander.getMetadata([ids[0] as ObjectID, late]);
    await waitUntil(
      "both gets wait",
      async () => (await storeFigures(fx.client, fx.admin)).waitingGets === 3,
    );
    await sealer.createAndSeal(late, new Uint8Array([9]), metadataOf(70));
    const error = await tooLarge;
    expect(error).toBeInstanceOf(LimitExceededError);
    expect((error as Error).message).toContain("getMetadata reply");
    const [buffer] = await bystanderGet;
    expect(buffer).toEqual(new Uint8Array([9]));
    expect(await bystanderMeta).toEqual([metadataOf(0), metadataOf(70)]);
    // The sealer's connection is up; the waiter's next replies are right (no garbage left in its stream).
    expect(await sealer.contains(late)).toBe(true);
    expect(await waiter.getMetadata([late])).toEqual([metadataOf(70)]);
    expect(await waiter.storeInfo()).toMatchObject({ objectCount: 71, clientCount: 4 });
    await bystander.release(late);
    expect(await bystander.delete(late)).toBe(1);
    await Promise.all([waiter, bystander, sealer].map((c) => c.disconnect()));
  });

  test("a get of 100,000 ids (the default maximum); gets of many ids completed by another client's seals", async () => {
    const other = await connect(fx.store.socketPath);
    const absent = Array.from({ length: 100_000 - ids.length }, () => ObjectID.fromRandom());
    const direct = await other.getBuffers([...ids, ...absent], { timeoutMs: 0 });
    expect(direct.length).toBe(100_000);
    expect(direct.filter((b) => b !== null).length).toBe(ids.length);
    for (const id of ids) await other.release(id);
    const late = Array.from({ length: 1000 }, () => ObjectID.fromRandom());
    // 70 MiB of metadata does not fit one reply: refused when the last seal completes it.
    const waitingMeta = other.getMetadata([...ids, ...late]);
    const waitingGet = other.getBuffers([...late, ...ids]);
    await waitUntil("the gets wait", async () => (await storeFigures(fx.client, fx.admin)).waitingGets === 2);
    for (const [i, id] of late.entries()) await fx.client.createAndSeal(id, new Uint8Array([i % 256]));
    expect(await waitingMeta.catch((e: unknown) => e)).toBeInstanceOf(LimitExceededError);
    const buffers = await waitingGet;
    expect(buffers.length).toBe(late.length + ids.length);
    for (const [i, buffer] of buffers.slice(0, late.length).entries()) expect(buffer?.[0]).toBe(i % 256);
    expect(buffers.every((b) => b !== null)).toBe(true);
    await other.disconnect();
    await waitUntil(
      "the other client is gone",
      async () => (await storeFigures(fx.client, fx.admin)).clients === 1,
    );
    expect(await fx.client.delete(late)).toBe(late.length);
  });

  test("every object deleted, the store is back to baseline", async () => {
    expect(await fx.client.delete(ids)).toBe(ids.length);
    await expectBaseline(fx, baselineFds);
  });
});

describe("list() and subscribe() of more objects than one frame holds", () => {
  // 53 bytes per listed object: 1.27M fill one 64 MiB frame; 33 bytes per note: 2.03M. 2.1M objects of
  // 64 bytes each (empty ones still take an aligned block) need 134 MB of arena.
  const COUNT = 2_100_000;
  const fx = useAdminStore({ memory: String(160 * MiB) });
  let baselineFds = 0;

  beforeAll(async () => {
    await fx.admin.stats(); // the admin plane's own connection is part of the baseline
    baselineFds = fdCount(fx.store.proc.pid);
    await fillWithEmptyObjects(fx.store.socketPath, COUNT);
  });

  test("raw frames: List and the subscription's first batch come as frames under the limit", async () => {
    const raw = await RawClient.open(fx.store.socketPath);
    const out = new ByteWriter();
    ListCodec.encodeRequest(out, 7);
    SubscribeCodec.encodeRequest(out, 8);
    await raw.send(out);
    await raw.waitForReply(MessageType.List, 7);
    const listFrames = raw.framesOf(7);
    expect(listFrames.length).toBe(Math.ceil(COUNT / LIST_ENTRIES_PER_FRAME));
    for (const [i, frame] of listFrames.entries()) {
      const last = i === listFrames.length - 1;
      expect(frame.flags).toBe(last ? FLAG_REPLY : FLAG_REPLY | FLAG_MORE);
      expect(frame.bodyBytes).toBeLessThanOrEqual(MAX_FRAME_BODY_BYTES);
    }
    expect(listFrames.reduce((sum, f) => sum + f.firstU32, 0)).toBe(COUNT);
    const noteCount = () =>
      raw.framesOf(8).reduce((sum, f) => sum + (f.type === MessageType.Notification ? f.firstU32 : 0), 0);
    await waitUntil("the first batch arrived", () => noteCount() === COUNT);
    const noteFrames = raw.framesOf(8).filter((f) => f.type === MessageType.Notification);
    expect(noteFrames.length).toBe(Math.ceil(COUNT / NOTES_PER_FRAME));
    for (const frame of noteFrames) expect(frame.bodyBytes).toBeLessThanOrEqual(MAX_FRAME_BODY_BYTES);
    expect(raw.closed).toBe(false);
    raw.close();
  });

  test("list() returns every object; subscribe() replays every one; another client is answered meanwhile", async () => {
    const other = await connect(fx.store.socketPath);
    const listing = fx.client.list();
    const info = other.storeInfo();
    const objects = await listing;
    expect(objects.length).toBe(COUNT);
    expect(objects.every((o) => o.state === "sealed" && o.dataSize === 0)).toBe(true);
    expect(new Set(objects.map((o) => o.id.key)).size).toBe(COUNT);
    expect((await info).objectCount).toBe(COUNT);
    const subscription = await other.subscribe({ maxQueuedNotifications: COUNT + 1 });
    let replayed = 0;
    for await (const note of subscription) {
      expect(note.deleted).toBe(false);
      if (++replayed === COUNT) break;
    }
    expect(await other.contains(objects[0]?.id as ObjectID)).toBe(true);
    await other.disconnect();
  });

  test("every object deleted, the store is back to baseline", async () => {
    const objects = await fx.client.list();
    for (let i = 0; i < objects.length; i += 100_000) {
      expect(await fx.client.delete(objects.slice(i, i + 100_000).map((o) => o.id))).toBe(
        Math.min(100_000, objects.length - i),
      );
    }
    await expectBaseline(fx, baselineFds);
  });
});
