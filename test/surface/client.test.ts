// The client API through its public surface: connect's populate and logger options, `await using`,
// subscribe's eviction notifications, getMetadata waiting for a seal, seal / abort by another client.
import { afterEach, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import {
  connect,
  ObjectAlreadySealedError,
  ObjectID,
  ObjectNotFoundError,
  type ObjectNotification,
  type PlasmaClient,
  PlasmaConnectionError,
  ProtocolError,
} from "../../src/client/index.ts";
import { PROTOCOL_VERSION } from "../../src/protocol/limits.ts";
import {
  adminHttp,
  BROKEN_STORE,
  KiB,
  MiB,
  PROBE_CLIENT,
  run,
  spawnChild,
  startStore,
  stopAll,
  tempDir,
  waitUntil,
} from "./helpers.ts";

const clients: PlasmaClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) await client.disconnect();
  await stopAll();
});

async function open(socketPath: string): Promise<PlasmaClient> {
  const client = await connect(socketPath);
  clients.push(client);
  return client;
}

interface Probe {
  capacityBytes: number;
  rssShmemBytes: number;
}

async function probe(socketPath: string, mode: "plain" | "populate"): Promise<Probe> {
  const result = await run(["bun", PROBE_CLIENT, socketPath, mode]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Probe;
}

test("connect({ populate: true }) faults the whole arena into the client; without it the client maps it lazily", async () => {
  const store = await startStore({ admin: "off", memory: "64MiB" });
  // RssShmem of the client process counts the shared pages it has mapped in.
  const lazy = await probe(store.socketPath, "plain");
  expect(lazy.capacityBytes).toBe(64 * MiB);
  expect(lazy.rssShmemBytes).toBeLessThan(32 * MiB);
  const populated = await probe(store.socketPath, "populate");
  expect(populated.rssShmemBytes).toBeGreaterThanOrEqual(64 * MiB);
});

test("connect({ logger }) gets the client's own warnings: a store sending a bad frame is logged there", async () => {
  const dir = tempDir();
  const socketPath = join(dir, "broken.sock");
  const broken = spawnChild(["bun", BROKEN_STORE, socketPath]);
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: "debug" },
    { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  try {
    await broken.waitForStdout(/listening/);
    const client = await connect(socketPath, { logger });
    clients.push(client);
    const error = await client.contains(ObjectID.fromRandom()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlasmaConnectionError);
    expect((error as PlasmaConnectionError).code).toBe("CONNECTION_ERROR");
    expect((error as Error).message).toContain("sent a bad frame");
    expect(lines.map((l) => [l.level, l.msg])).toContainEqual([50, "bad frame from plasma_store; closing"]);
  } finally {
    expect(await broken.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a store of protocol version 1 (a Welcome without the flags word) gets the version mismatch error", async () => {
  const dir = tempDir();
  const socketPath = join(dir, "old.sock");
  const old = spawnChild(["bun", BROKEN_STORE, socketPath, "old-welcome"]);
  try {
    await old.waitForStdout(/listening/);
    const error = await connect(socketPath).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe("PROTOCOL_ERROR");
    expect((error as Error).message).toBe(
      `The peer at ${socketPath}: Protocol version mismatch: the plasma_store speaks version 1, this client speaks ${PROTOCOL_VERSION}; use matching bun-plasma versions.`,
    );
  } finally {
    expect(await old.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("`await using` a client disconnects it at the end of the block: its references go, its unsealed objects are aborted", async () => {
  const store = await startStore({ admin: "off" });
  const other = await open(store.socketPath);
  const shared = ObjectID.fromRandom();
  const unsealed = ObjectID.fromRandom();
  await other.createAndSeal(shared, new Uint8Array([1, 2, 3]));
  let escaped: PlasmaClient | null = null;
  {
    await using scoped = await connect(store.socketPath);
    escaped = scoped;
    await scoped.create(unsealed, 100);
    const [view] = await scoped.getBuffers([shared]);
    expect([...(view ?? [])]).toEqual([1, 2, 3]);
    const listed = new Map((await other.list()).map((o) => [o.id.hex(), o]));
    expect(listed.get(shared.hex())?.refCount).toBe(1);
    expect(listed.get(unsealed.hex())?.state).toBe("created");
    // The reference lives with the view: keep it reachable until the list above.
    expect(view?.[0]).toBe(1);
  }
  await waitUntil("the scoped client is gone", async () => (await other.storeInfo()).clientCount === 1);
  const after = await other.list();
  expect(after.map((o) => [o.id.hex(), o.refCount])).toEqual([[shared.hex(), 0]]);
  const late = await (escaped as PlasmaClient).contains(shared).catch((e: unknown) => e);
  expect(late).toBeInstanceOf(PlasmaConnectionError);
  // The aborted id can be created again.
  expect((await other.create(unsealed, 10)).length).toBe(10);
});

async function take(iterator: AsyncIterator<ObjectNotification>, count: number): Promise<string[]> {
  const seen: string[] = [];
  while (seen.length < count) {
    const next = await iterator.next();
    if (next.done === true) break;
    const n = next.value;
    seen.push(`${n.deleted ? "deleted" : "sealed"} ${n.id.hex()} ${n.dataSize}`);
  }
  return seen;
}

test("subscribe() notifies evictions (deleted: true) in order with seals, whether create or evict() evicted", async () => {
  const store = await startStore({ admin: "off", memory: "1MiB" });
  const client = await open(store.socketPath);
  const watcher = await open(store.socketPath);
  const notes = (await watcher.subscribe())[Symbol.asyncIterator]();
  const size = 320 * KiB;
  const [a, b, c, d] = [0, 1, 2, 3].map(() => ObjectID.fromRandom()) as [
    ObjectID,
    ObjectID,
    ObjectID,
    ObjectID,
  ];
  for (const id of [a, b, c]) await client.createAndSeal(id, new Uint8Array(size));
  // A fourth does not fit beside three: the create evicts the least recently used one, a.
  await client.createAndSeal(d, new Uint8Array(size));
  expect(await client.contains(a)).toBe(false);
  expect(await take(notes, 5)).toEqual([
    `sealed ${a.hex()} ${size}`,
    `sealed ${b.hex()} ${size}`,
    `sealed ${c.hex()} ${size}`,
    `deleted ${a.hex()} ${size}`,
    `sealed ${d.hex()} ${size}`,
  ]);
  expect(await client.evict(1)).toBe(size);
  expect(await take(notes, 1)).toEqual([`deleted ${b.hex()} ${size}`]);
  await notes.return?.();
});

test("getMetadata waits for an object being created until its creator seals it", async () => {
  const store = await startStore({ admin: "http" });
  const creator = await open(store.socketPath);
  const reader = await open(store.socketPath);
  const id = ObjectID.fromRandom();
  const metadata = new TextEncoder().encode("columns: a, b");
  const buffer = await creator.create(id, 4, metadata);
  buffer.set([9, 8, 7, 6]);
  expect(await reader.getMetadata([id], { timeoutMs: 0 })).toEqual([null]);
  let settled = false;
  const waiting = reader.getMetadata([id]).then((result) => {
    settled = true;
    return result;
  });
  const waitingGets = async () =>
    ((await adminHttp(store, "/v1/stats")).body as { waitingGets: number }).waitingGets;
  await waitUntil("the store holds the getMetadata", async () => (await waitingGets()) === 1);
  expect(settled).toBe(false);
  await creator.seal(id);
  const [got] = await waiting;
  expect(new TextDecoder().decode(got ?? new Uint8Array())).toBe("columns: a, b");
  expect(await waitingGets()).toBe(0);
  // A copy: no reference was taken; the one reference is the creator's buffer, reachable until here.
  expect((await reader.list()).find((o) => o.id.hex() === id.hex())?.refCount).toBe(1);
  expect((buffer.buffer as ArrayBuffer).detached).toBe(true); // seal() detached the creator's buffer
  await creator.release(id);
});

test("seal and abort by a client that did not create the object fail with ObjectNotFoundError; the creator's still work", async () => {
  const store = await startStore({ admin: "off" });
  const creator = await open(store.socketPath);
  const stranger = await open(store.socketPath);
  const id = ObjectID.fromRandom();
  (await creator.create(id, 3)).set([1, 2, 3]);
  for (const [call, verb] of [
    [() => stranger.seal(id), "seal"],
    [() => stranger.abort(id), "abort"],
  ] as const) {
    const error = await call().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ObjectNotFoundError);
    expect((error as ObjectNotFoundError).code).toBe("OBJECT_NOT_FOUND");
    expect((error as Error).message).toContain(`only its creator can ${verb} it`);
  }
  // Neither call changed the object.
  expect(await stranger.contains(id)).toBe(false);
  expect((await stranger.list()).map((o) => [o.id.hex(), o.state])).toEqual([[id.hex(), "created"]]);
  await creator.seal(id);
  const [view] = await stranger.getBuffers([id], { timeoutMs: 0 });
  expect([...(view ?? [])]).toEqual([1, 2, 3]);
  for (const call of [() => stranger.seal(id), () => stranger.abort(id)]) {
    const error = await call().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ObjectAlreadySealedError);
    expect((error as ObjectAlreadySealedError).code).toBe("OBJECT_ALREADY_SEALED");
  }
  await stranger.release(id);
  await creator.release(id);
});
