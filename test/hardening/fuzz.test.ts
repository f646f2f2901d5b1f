import { heapSize } from "bun:jsc";
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { Socket } from "bun";
import pino from "pino";
import { ByteWriter } from "../../src/protocol/bytes.ts";
import {
  AbortCodec,
  BATCH_PREFIX_BYTES,
  BatchCodec,
  ContainsCodec,
  CreateAndSealCodec,
  CreateCodec,
  DebugStringCodec,
  DeleteCodec,
  EvictCodec,
  GetCodec,
  GetMetadataCodec,
  HashCodec,
  HelloCodec,
  ListCodec,
  LocateCodec,
  MAX_BATCH_BODY_BYTES,
  MAX_BATCH_FRAMES,
  MessageType,
  NodesCodec,
  PinsReleasedCodec,
  ReleaseCodec,
  SealCodec,
  StoreInfoCodec,
  SubscribeCodec,
} from "../../src/protocol/codecs/index.ts";
import { beginFrame, endFrame, FLAG_ERROR, FLAG_REPLY } from "../../src/protocol/frame.ts";
import { MAX_FRAME_BODY_BYTES, PROTOCOL_VERSION } from "../../src/protocol/limits.ts";
import { type StoreHandle, startStore } from "../helpers/daemon.ts";
import { runClientProcess, tempDir } from "../helpers/store-process.ts";
import { waitUntil } from "../helpers/wait.ts";
import { fdCount, LONG_MODE, Rng } from "./helpers.ts";

/**
 * Protocol fuzzer. Seeded and reproducible: every session's frames come from its own PRNG seeded with
 * PLASMA_FUZZ_SEED + session index (print the seed of a failing run and pass it back in). The store runs
 * in this process (startStore) so its core's invariants can be checked directly; the fuzzer talks raw
 * frames to it over its Unix socket, like any other client process would.
 */

const SEED = Number(process.env.PLASMA_FUZZ_SEED ?? 20_261_125);
const FRAMES = Number(process.env.PLASMA_FUZZ_FRAMES ?? (LONG_MODE ? 1_000_000 : 100_000));
const STORM_CONNECTIONS = LONG_MODE ? 20_000 : 2_000;
const CONCURRENT_SESSIONS = 8;
const CAPACITY = 8 * 1024 * 1024;
const WELL_BEHAVED = join(import.meta.dir, "clients/well-behaved.ts");

const ids = Array.from({ length: 24 }, (_, i) => {
  const bytes = new Uint8Array(20);
  bytes[0] = i;
  bytes[19] = 0xf0;
  return bytes;
});
const FATAL_TYPES: number[] = [MessageType.Hello, MessageType.Welcome, MessageType.Notification];
// Batch frames are made by wrapping several frames (see wrapInBatch), not picked as a type.
const REQUEST_TYPES: number[] = Object.values(MessageType).filter(
  (t) => !FATAL_TYPES.includes(t) && t !== MessageType.Batch,
);

interface Figures {
  frames: number;
  mutatedFrames: number;
  /** Writes whose frames went as one Batch frame. */
  batches: number;
  /** Frames written after the store had closed the connection (bytes after a close). */
  framesAfterClose: number;
  sessions: number;
  stormConnections: number;
  bytesSent: number;
  bytesReceived: number;
}

/** One frame, sometimes broken on purpose. Returns the bytes and whether it was mutated. */
function makeFrame(rng: Rng, out: ByteWriter, requestId: number): boolean {
  out.reset();
  const id = rng.pick(ids);
  const someIds = () => Array.from({ length: 1 + rng.int(4) }, () => rng.pick(ids));
  const timeout = () => rng.pick([0, 0, 0, 1, 5, 50, -1]);
  // Frames that end a connection (a second Hello, store-to-client types, broken frames) are rare, so
  // most sessions live long enough for their requests to interleave with other sessions'.
  const type = rng.chance(0.01) ? rng.pick(FATAL_TYPES) : rng.pick(REQUEST_TYPES);
  switch (type) {
    case MessageType.Hello:
      HelloCodec.encodeRequest(out, requestId, {
        version: rng.chance(0.9) ? PROTOCOL_VERSION : rng.int(5),
        pid: rng.int(1 << 30),
      });
      break;
    case MessageType.Create:
      CreateCodec.encodeRequest(out, requestId, {
        id,
        dataSize: rng.chance(0.01) ? CAPACITY * 2 : rng.int(20_000),
        metadata: rng.bytes(rng.int(40)),
        waitMs: rng.pick([0, 0, 0, 0, 2, 20, -1]),
      });
      break;
    case MessageType.CreateAndSeal:
      CreateAndSealCodec.encodeRequest(out, requestId, {
        id,
        metadata: rng.bytes(rng.int(16)),
        data: rng.bytes(rng.int(300)),
      });
      break;
    case MessageType.Seal:
      SealCodec.encodeRequest(out, requestId, id);
      break;
    case MessageType.Abort:
      AbortCodec.encodeRequest(out, requestId, id);
      break;
    case MessageType.Contains:
      ContainsCodec.encodeRequest(out, requestId, id);
      break;
    case MessageType.Hash:
      HashCodec.encodeRequest(out, requestId, id);
      break;
    case MessageType.Get:
    case MessageType.GetMetadata:
      (type === MessageType.Get ? GetCodec : GetMetadataCodec).encodeRequest(out, requestId, {
        ids: someIds(),
        timeoutMs: timeout(),
      });
      break;
    case MessageType.Release:
      ReleaseCodec.encodeRequestNoReply(out, id, 1 + rng.int(3));
      if (rng.chance(0.2)) out.view.setUint32(8, requestId, true);
      break;
    case MessageType.Delete:
      DeleteCodec.encodeRequest(out, requestId, someIds());
      break;
    case MessageType.Evict:
      EvictCodec.encodeRequest(out, requestId, rng.int(200_000));
      break;
    case MessageType.List:
      ListCodec.encodeRequest(out, requestId);
      break;
    case MessageType.Subscribe:
      SubscribeCodec.encodeRequest(out, requestId);
      break;
    case MessageType.StoreInfo:
      StoreInfoCodec.encodeRequest(out, requestId);
      break;
    case MessageType.DebugString:
      DebugStringCodec.encodeRequest(out, requestId);
      break;
    case MessageType.Locate:
      LocateCodec.encodeRequest(out, requestId, someIds());
      break;
    case MessageType.Nodes:
      NodesCodec.encodeRequest(out, requestId);
      break;
    case MessageType.PinsReleased:
      PinsReleasedCodec.encodeRequestNoReply(out);
      break;
    default:
      // The store-to-client types (Welcome, Notification, PollAdvice), sent as requests with empty bodies.
      endFrame(out, beginFrame(out, type, 0, requestId));
  }
  if (!rng.chance(0.004)) return false;
  mutate(rng, out);
  return true;
}

function mutate(rng: Rng, out: ByteWriter): void {
  const bodyBytes = out.length - 12;
  switch (rng.int(9)) {
    case 0: // unknown type
      out.view.setUint16(4, 18 + rng.int(65_000), true);
      break;
    case 1: // random body of a random length under a known type
      out.length = 12;
      out.raw(rng.bytes(rng.int(80)));
      out.view.setUint32(0, out.length - 12, true);
      break;
    case 2: // wrong-size id or truncated body: the length field matches the shortened body
      if (bodyBytes > 0) {
        out.length -= 1 + rng.int(bodyBytes);
        out.view.setUint32(0, out.length - 12, true);
      }
      break;
    case 3: // extra bytes inside the frame (an id of 21 bytes, trailing junk)
      out.raw(rng.bytes(1 + rng.int(8)));
      out.view.setUint32(0, out.length - 12, true);
      break;
    case 4: // length field 0, huge, or "negative" as u32
      out.view.setUint32(
        0,
        rng.pick([0, MAX_FRAME_BODY_BYTES + 1, 0x7fffffff, 0xffffffff, 0x80000000]),
        true,
      );
      break;
    case 5: // a length that does not match the body (the next frame's bytes become this one's body)
      out.view.setUint32(0, Math.max(0, bodyBytes + rng.pick([-3, -1, 1, 7, 100])), true);
      break;
    case 6: // flags: reply, error, unknown
      out.view.setUint16(6, rng.pick([FLAG_REPLY, FLAG_ERROR, 4, 0x8000, 0xffff]), true);
      break;
    case 7: // one flipped byte anywhere
      if (out.length > 0) {
        const at = rng.int(out.length);
        out.bytes[at] = (out.bytes[at] ?? 0) ^ (1 + rng.int(255));
      }
      break;
    default: // a truncated frame: only part of it is sent
      out.length = rng.int(out.length);
  }
}

/**
 * The frames in `batch` from `from` on, as one Batch frame (sometimes broken: its count, a length, a
 * nested Batch header); false when they do not fit one.
 */
function wrapInBatch(rng: Rng, batch: ByteWriter, from: number): boolean {
  const framesBytes = batch.length - from;
  if (framesBytes + 4 > MAX_BATCH_BODY_BYTES) return false;
  let count = 0;
  for (let at = from; at + 12 <= batch.length; count++) at += 12 + batch.view.getUint32(at, true);
  batch.skip(BATCH_PREFIX_BYTES);
  batch.bytes.copyWithin(from + BATCH_PREFIX_BYTES, from, from + framesBytes);
  BatchCodec.writePrefix(batch, from, 0, count, framesBytes);
  if (rng.chance(0.05)) {
    const broken = rng.int(4);
    if (broken === 0) batch.view.setUint32(from + 12, rng.pick([0, count + 1, MAX_BATCH_FRAMES + 1]), true);
    else if (broken === 1) batch.view.setUint32(from, framesBytes + 4 - 1 - rng.int(8), true);
    else if (broken === 2) batch.view.setUint16(from + 16 + 4, MessageType.Batch, true);
    else batch.view.setUint16(from + 6, FLAG_REPLY, true);
  }
  return true;
}

interface RawConnection {
  socket: Socket<undefined>;
  closed: () => boolean;
  drained: () => Promise<void>;
}

async function openRaw(socketPath: string, figures: Figures): Promise<RawConnection> {
  let closed = false;
  let wake: (() => void) | null = null;
  const socket = await Bun.connect<undefined>({
    unix: socketPath,
    socket: {
      data(_s, data) {
        figures.bytesReceived += data.length;
      },
      drain() {
        wake?.();
      },
      close() {
        closed = true;
        wake?.();
      },
      error() {
        closed = true;
      },
    },
  });
  return {
    socket,
    closed: () => closed,
    drained: () =>
      new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      }),
  };
}

/** Writes everything unless the store closed the connection; returns false once it is closed. */
async function writeAll(conn: RawConnection, bytes: Uint8Array): Promise<boolean> {
  let rest = bytes;
  while (rest.length > 0) {
    if (conn.closed()) return false;
    const written = conn.socket.write(rest);
    if (written < 0) return false;
    rest = rest.subarray(written);
    if (rest.length > 0) await conn.drained();
  }
  return true;
}

async function session(socketPath: string, index: number, frames: number, figures: Figures): Promise<void> {
  const rng = new Rng(SEED + index);
  const conn = await openRaw(socketPath, figures);
  const out = new ByteWriter(1024);
  const batch = new ByteWriter(64 * 1024);
  if (rng.chance(0.95)) {
    HelloCodec.encodeRequest(batch, 1, { version: PROTOCOL_VERSION, pid: process.pid });
    figures.frames++;
  }
  let open = true;
  // Where the frames a Batch may wrap start (after the Hello), and whether this write wraps them.
  let batchFrom = batch.length;
  let wrap = rng.chance(0.3);
  for (let i = 0; i < frames; i++) {
    if (makeFrame(rng, out, 2 + rng.int(1000))) figures.mutatedFrames++;
    batch.raw(out.bytes.subarray(0, out.length));
    figures.frames++;
    if (!open || conn.closed()) figures.framesAfterClose++;
    if (batch.length > 4096 || i === frames - 1 || rng.chance(0.05)) {
      if (wrap && batch.length - batchFrom > 12 && wrapInBatch(rng, batch, batchFrom)) figures.batches++;
      // Split at a random point so the store sees frames cut across reads.
      const bytes = batch.bytes.subarray(0, batch.length);
      const cut = rng.int(bytes.length + 1);
      figures.bytesSent += bytes.length;
      // After the store has closed the connection the fuzzer keeps writing: bytes after a close.
      open = (await writeAll(conn, bytes.subarray(0, cut))) && open;
      if (rng.chance(0.3)) await Bun.sleep(0);
      open = (await writeAll(conn, bytes.subarray(cut))) && open;
      batch.reset();
      batchFrom = 0;
      wrap = rng.chance(0.3);
      if (!open && rng.chance(0.5)) break;
    }
  }
  if (rng.chance(0.5)) await Bun.sleep(rng.int(20));
  if (rng.chance(0.5)) conn.socket.end();
  else conn.socket.terminate();
}

/** Thousands of connections opened and dropped: before the welcome, after it, mid-header. */
async function storm(socketPath: string, figures: Figures): Promise<void> {
  const rng = new Rng(SEED ^ 0x5eed);
  const out = new ByteWriter(64);
  for (let i = 0; i < STORM_CONNECTIONS; i += 50) {
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        const conn = await openRaw(socketPath, figures);
        figures.stormConnections++;
        const how = rng.int(4);
        if (how === 1) {
          out.reset();
          HelloCodec.encodeRequest(out, 1, { version: PROTOCOL_VERSION, pid: 1 });
          conn.socket.write(out.bytes.subarray(0, out.length));
        } else if (how === 2) {
          conn.socket.write(new Uint8Array([5, 0, 0]));
        } else if (how === 3) {
          await Bun.sleep(1);
        }
        if (rng.chance(0.5)) conn.socket.terminate();
        else conn.socket.end();
      }),
    );
  }
}

let dir: string;
let store: StoreHandle;
let violations = 0;

beforeAll(async () => {
  dir = tempDir("plasma-fuzz-");
  const counter = { write: () => violations++ };
  store = await startStore({
    capacityBytes: CAPACITY,
    socketPath: join(dir, "plasma.sock"),
    logger: pino({ level: "warn" }, counter),
  });
});

afterAll(async () => {
  await store.stop();
  rmSync(dir, { recursive: true, force: true });
});

test(`fuzz: ${FRAMES} random and broken frames, a connection storm; the store lives, invariants hold, memory and descriptors return to baseline`, async () => {
  const figures: Figures = {
    frames: 0,
    mutatedFrames: 0,
    batches: 0,
    framesAfterClose: 0,
    sessions: 0,
    stormConnections: 0,
    bytesSent: 0,
    bytesReceived: 0,
  };
  // Warm up (timers, sockets, JIT) before taking the baselines.
  await session(store.socketPath, -1, 200, figures);
  await waitUntil("the warm-up client is gone", () => store.core.stats().clientCount === 0);
  Bun.gc(true);
  const baselineFds = fdCount(process.pid);
  const baselineHeap = heapSize();

  let next = 0;
  const workers = Array.from({ length: CONCURRENT_SESSIONS }, async () => {
    const rng = new Rng(SEED * 31 + next);
    while (figures.frames < FRAMES) {
      const index = next++;
      figures.sessions++;
      await session(store.socketPath, index, 20 + rng.int(400), figures);
      // Invariants hold at every point, not only at the end.
      store.core.checkInvariants();
    }
  });
  await Promise.all([...workers, storm(store.socketPath, figures)]);

  await waitUntil("every fuzz connection is gone", () => store.core.stats().clientCount === 0, 60_000);
  const core = store.core;
  core.checkInvariants();
  expect(core.waitingGetCount).toBe(0);
  expect(core.waitingCreateCount).toBe(0);
  for (const entry of core.list()) {
    expect(entry.state).toBe("sealed");
    expect(entry.holders.size).toBe(0);
  }

  // A well-behaved client (another process: connect blocks in the handshake) is served, and cleans up
  // everything the fuzzer left behind.
  const objectsLeft = core.stats().objectCount;
  console.log(JSON.stringify({ ...figures, objectsLeft, counters: core.counters, violations }));
  const checker = await runClientProcess(WELL_BEHAVED, [store.socketPath]);
  expect(checker.code).toBe(0);
  expect(JSON.parse(checker.stdout)).toMatchObject({
    roundTrip: true,
    listed: objectsLeft + 1,
    invariants: "ok",
  });
  await waitUntil("the checking client is gone", () => core.stats().clientCount === 0);

  core.checkInvariants();
  expect(core.stats().usedBytes).toBe(0);
  expect(core.stats().objectCount).toBe(0);
  await waitUntil("descriptors are back to the baseline", () => fdCount(process.pid) === baselineFds);
  Bun.gc(true);
  const heapGrowth = heapSize() - baselineHeap;
  console.log(
    `fuzz: seed ${SEED}, ${figures.frames} frames (${figures.mutatedFrames} mutated, ${figures.framesAfterClose} after a close) in ${figures.sessions} sessions, ` +
      `${figures.stormConnections} storm connections, ${figures.bytesSent} bytes sent, ${figures.bytesReceived} received, ` +
      `${violations} store warnings (protocol violations), creates ${core.counters.creates}, seals ${core.counters.seals}, ` +
      `heap growth ${heapGrowth} bytes, descriptors ${fdCount(process.pid)} (baseline ${baselineFds})`,
  );
  expect(figures.frames).toBeGreaterThanOrEqual(FRAMES);
  expect(figures.batches).toBeGreaterThan(0);
  expect(core.counters.seals).toBeGreaterThan(0);
  expect(violations).toBeGreaterThan(0);
  // The JS heap comes back to its baseline: what the fuzz run allocated is garbage, not kept.
  expect(heapGrowth).toBeLessThan(16 * 1024 * 1024);
});
