import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { Socket } from "bun";
import { connect, LimitExceededError, ObjectID, type PlasmaClient } from "../../src/client/index.ts";
import { ByteWriter } from "../../src/protocol/bytes.ts";
import { GetCodec, GetMetadataCodec, HelloCodec, MessageType } from "../../src/protocol/codecs/index.ts";
import { FLAG_ERROR, FLAG_REPLY, FrameReader } from "../../src/protocol/frame.ts";
import { PROTOCOL_VERSION } from "../../src/protocol/limits.ts";
import { parseCli, UsageError } from "../helpers/daemon.ts";
import { useAdminStore } from "../helpers/store-fixture.ts";
import { waitUntil } from "../helpers/wait.ts";
import { fdCount, fdLinks, storeInvariants } from "./helpers.ts";

/**
 * What one client can take from all (issue 13): the store's memory per client is budgeted
 * (--max-client-memory), a connection must say Hello in time (--hello-timeout-ms) and takes a client slot
 * only then. The attackers talk raw frames over the socket, as any local process could.
 */

const MiB = 1024 * 1024;
const BUDGET_BYTES = 4 * MiB;
const MAX_CLIENTS = 4;
// The admin plane (loopback, port 0) counts waiting gets and creates.
const fx = useAdminStore({
  memory: String(64 * MiB),
  args: [
    "--max-client-memory",
    String(BUDGET_BYTES),
    "--hello-timeout-ms",
    "1500",
    "--max-clients",
    String(MAX_CLIENTS),
  ],
});
let baselineFds = 0;

beforeAll(async () => {
  // One admin call first, so the admin plane's own connection is part of the baseline.
  await fx.admin.stats();
  baselineFds = fdCount(fx.store.proc.pid);
});

/** VmRSS of a process, in bytes. */
function rssBytes(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb) * 1024;
}

/** A peer that speaks raw frames: it counts the frames it receives (the Welcome first). */
interface RawPeer {
  readonly socket: Socket<undefined>;
  /** Frames received, by type; replies of each request type under their type. */
  readonly framesByType: Map<number, number>;
  errorFrames: number;
  readonly closed: Promise<void>;
  isClosed(): boolean;
  send(write: (out: ByteWriter) => void): void;
}

async function rawPeer(socketPath: string): Promise<RawPeer> {
  let markClosed = () => {};
  let closed = false;
  const peer: RawPeer = {
    socket: undefined as unknown as Socket<undefined>,
    framesByType: new Map(),
    errorFrames: 0,
    closed: new Promise<void>((resolve) => {
      markClosed = resolve;
    }),
    isClosed: () => closed,
    send(write) {
      const out = new ByteWriter();
      write(out);
      peer.socket.write(out.bytes.subarray(0, out.length));
    },
  };
  const reader = new FrameReader((type, flags) => {
    if ((flags & FLAG_ERROR) !== 0) peer.errorFrames++;
    if ((flags & FLAG_REPLY) !== 0 || type === MessageType.Welcome)
      peer.framesByType.set(type, (peer.framesByType.get(type) ?? 0) + 1);
  });
  const socket = await Bun.connect<undefined>({
    unix: socketPath,
    socket: {
      data: (_s, bytes) => reader.push(bytes),
      close: () => {
        closed = true;
        markClosed();
      },
    },
  });
  (peer as { socket: Socket<undefined> }).socket = socket;
  await waitUntil("the welcome arrives", () => peer.framesByType.get(MessageType.Welcome) === 1);
  return peer;
}

async function greetedPeer(socketPath: string): Promise<RawPeer> {
  const peer = await rawPeer(socketPath);
  peer.send((out) => HelloCodec.encodeRequest(out, 1, { version: PROTOCOL_VERSION, pid: process.pid }));
  await waitUntil("the hello reply arrives", () => peer.framesByType.get(MessageType.Hello) === 1);
  return peer;
}

/** The store is alive, serves the fixture's client, holds nothing for gone peers, has its fds back. */
async function expectBaseline(): Promise<void> {
  const id = ObjectID.fromRandom();
  await fx.client.createAndSeal(id, new Uint8Array([1, 2, 3]));
  expect(await fx.client.contains(id)).toBe(true);
  await fx.client.delete([id]);
  await waitUntil("the store is back to its fixture client", async () => {
    const stats = await fx.admin.stats();
    const info = await fx.client.storeInfo();
    return info.clientCount === 1 && stats.waitingGets === 0 && stats.waitingCreates === 0;
  });
  expect(await storeInvariants(fx.client)).toBe("ok");
  await waitUntil(
    `the store's descriptors are back to ${baselineFds}`,
    () => fdCount(fx.store.proc.pid) === baselineFds,
  ).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}: ${fdLinks(fx.store.proc.pid).join(" ")}`);
  });
}

describe("unread replies (--max-client-memory)", () => {
  test("pipelined getMetadata from a client that reads nothing: the store stops reading it, RSS stays bounded", async () => {
    // 4 objects with 256 KiB of metadata each: every getMetadata of the 4 is a 1 MiB reply.
    const ids = Array.from({ length: 4 }, () => ObjectID.fromRandom());
    const metadataBytes = 256 * 1024;
    for (const id of ids) await fx.client.createAndSeal(id, new Uint8Array(8), new Uint8Array(metadataBytes));
    const requests = 300;
    const pid = fx.store.proc.pid;
    const rssBefore = rssBytes(pid);

    const attacker = await greetedPeer(fx.store.socketPath);
    attacker.socket.pause();
    // 300 MiB of replies asked for in about 30 KB of requests, sent at once.
    attacker.send((out) => {
      for (let i = 0; i < requests; i++) {
        GetMetadataCodec.encodeRequest(out, 100 + i, { ids: ids.map((id) => id.bytes), timeoutMs: 0 });
      }
    });
    await fx.store.waitForOutput(/reading none of its requests until it reads/);
    // Held back, not dropped: the connection is up, and other clients are served meanwhile.
    expect(attacker.isClosed()).toBe(false);
    const other = await connect(fx.store.socketPath);
    const metadata = await other.getMetadata(ids);
    expect(metadata.map((m) => m?.length)).toEqual([
      metadataBytes,
      metadataBytes,
      metadataBytes,
      metadataBytes,
    ]);
    // What the store holds for the attacker: its budget of unread replies and one reply past it, the
    // unparsed requests, and garbage of the few replies built. Without the budget: 300 MiB of replies.
    const grownBytes = rssBytes(pid) - rssBefore;
    expect(grownBytes).toBeLessThan(16 * BUDGET_BYTES);

    // Once the attacker reads, every request is answered, in full.
    attacker.socket.resume();
    await waitUntil(
      "every getMetadata is answered",
      () => (attacker.framesByType.get(MessageType.GetMetadata) ?? 0) === requests,
      60_000,
    );
    expect(attacker.errorFrames).toBe(0);
    expect(attacker.isClosed()).toBe(false);
    attacker.socket.end();
    await attacker.closed;
    await other.disconnect();
    await fx.client.delete(ids);
    await expectBaseline();
  });
});

describe("waiting requests (--max-client-memory)", () => {
  test("blocked gets past a client's budget fail with LimitExceededError; other clients can still wait", async () => {
    const waiter = await connect(fx.store.socketPath);
    const other = await connect(fx.store.socketPath);
    try {
      // 512 bytes are counted per id of a blocked get: 6000 ids take 3 MB of the 4 MiB budget.
      const missing = (n: number) => Array.from({ length: n }, () => ObjectID.fromRandom());
      const first = missing(6000);
      const blocked = waiter.getBuffers(first).catch((e: unknown) => e);
      await waitUntil("the first get waits", async () => (await fx.admin.stats()).waitingGets === 1);
      const over = await waiter.getBuffers(missing(3000)).catch((e: unknown) => e);
      expect(over).toBeInstanceOf(LimitExceededError);
      expect((over as Error).message).toContain("--max-client-memory");
      // The refused get left nothing waiting; a small one still fits the budget, and is answered.
      expect((await fx.admin.stats()).waitingGets).toBe(1);
      const small = missing(10);
      const smallGet = waiter.getBuffers(small, { timeoutMs: 50 });
      expect(await smallGet).toEqual(small.map(() => null));
      // The budget is per client: another one may block as much.
      const othersGet = other.getBuffers(missing(6000), { timeoutMs: 100 });
      expect((await othersGet).every((b) => b === null)).toBe(true);
      // The first get is still served when its objects come.
      const sealer = fx.client;
      for (const id of first.slice(0, 2)) await sealer.createAndSeal(id, new Uint8Array(1));
      await waiter.disconnect();
      expect(((await blocked) as Error).name).toBe("PlasmaConnectionError");
      await sealer.delete(first.slice(0, 2));
    } finally {
      await other.disconnect();
    }
    await expectBaseline();
  });
});

describe("Hello (--hello-timeout-ms, --max-clients)", () => {
  test("silent connections take no client slot and are closed after the timeout", async () => {
    const silent: RawPeer[] = [];
    for (let i = 0; i < 2 * MAX_CLIENTS; i++) silent.push(await rawPeer(fx.store.socketPath));
    // Every slot but the fixture's is still free for real clients.
    const clients: PlasmaClient[] = [];
    for (let i = 1; i < MAX_CLIENTS; i++) clients.push(await connect(fx.store.socketPath));
    expect((await fx.client.storeInfo()).clientCount).toBe(MAX_CLIENTS);
    const refused = await connect(fx.store.socketPath).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(LimitExceededError);
    expect((refused as Error).message).toContain(`--max-clients ${MAX_CLIENTS}`);
    await Promise.all(silent.map((peer) => peer.closed));
    const timeouts = fx.store.output().match(/no Hello within --hello-timeout-ms/g) ?? [];
    expect(timeouts.length).toBeGreaterThanOrEqual(silent.length);
    // The real clients were not touched by the timeout.
    for (const client of clients) expect((await client.storeInfo()).clientCount).toBe(MAX_CLIENTS);
    for (const client of clients) await client.disconnect();
    await expectBaseline();
  });

  test("before Hello only a small frame is taken: a large frame's header closes the connection", async () => {
    const attacker = await rawPeer(fx.store.socketPath);
    // The header of a 64 MiB create and the first KiB of its body.
    const frame = new Uint8Array(12 + 1024);
    const view = new DataView(frame.buffer);
    view.setUint32(0, 64 * MiB - 1, true);
    view.setUint16(4, MessageType.Create, true);
    view.setUint32(8, 7, true);
    attacker.socket.write(frame);
    await attacker.closed;
    expect(attacker.errorFrames).toBe(1);
    expect(fx.store.output()).toContain("over the limit of 256");
    // After Hello frames are taken up to --max-client-memory: a get of 20 ids (416 bytes) is answered.
    const greeted = await greetedPeer(fx.store.socketPath);
    const ids = Array.from({ length: 20 }, () => ObjectID.fromRandom().bytes);
    greeted.send((out) => GetCodec.encodeRequest(out, 9, { ids, timeoutMs: 0 }));
    await waitUntil("the get is answered", () => greeted.framesByType.get(MessageType.Get) === 1);
    expect(greeted.errorFrames).toBe(0);
    greeted.socket.end();
    await greeted.closed;
    await expectBaseline();
  });
});

describe("flags", () => {
  test("--max-client-memory and --hello-timeout-ms, and their PLASMA_* variables", () => {
    const parsed = parseCli(["--max-client-memory", "8MiB", "--hello-timeout-ms", "250"], {});
    expect(parsed.options.limits?.maxClientMemoryBytes).toBe(8 * MiB);
    expect(parsed.options.helloTimeoutMs).toBe(250);
    const fromEnv = parseCli([], { PLASMA_MAX_CLIENT_MEMORY: "16MiB", PLASMA_HELLO_TIMEOUT_MS: "900" });
    expect(fromEnv.options.limits?.maxClientMemoryBytes).toBe(16 * MiB);
    expect(fromEnv.options.helloTimeoutMs).toBe(900);
    expect(
      parseCli(["--max-client-memory", "5MiB"], { PLASMA_MAX_CLIENT_MEMORY: "16MiB" }).options.limits,
    ).toMatchObject({ maxClientMemoryBytes: 5 * MiB });
    expect(() => parseCli(["--max-client-memory", "1MiB"], {})).toThrow(UsageError);
    expect(() => parseCli(["--hello-timeout-ms", "0"], {})).toThrow(UsageError);
    expect(() => parseCli(["--hello-timeout-ms", "soon"], {})).toThrow(UsageError);
  });
});
