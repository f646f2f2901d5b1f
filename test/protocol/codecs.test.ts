import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ByteReader, ByteWriter } from "../../src/protocol/bytes.ts";
import {
  AbortCodec,
  BatchCodec,
  type BatchFrame,
  type ClusterNodeWire,
  ContainsCodec,
  CreateAndSealCodec,
  CreateCodec,
  DebugStringCodec,
  DeleteCodec,
  ErrorReplyCodec,
  EvictCodec,
  GetCodec,
  GetMetadataCodec,
  HashCodec,
  HelloCodec,
  ListCodec,
  LocateCodec,
  MAX_ADVISED_POLL_US,
  MAX_BATCH_BODY_BYTES,
  MAX_BATCH_FRAMES,
  MessageType,
  NodesCodec,
  NotificationCodec,
  type NotificationWire,
  PinsReleasedCodec,
  PollAdviceCodec,
  ReleaseCodec,
  SealCodec,
  StoreInfoCodec,
  SubscribeCodec,
  type Welcome,
  WelcomeCodec,
} from "../../src/protocol/codecs/index.ts";
import {
  AccessDeniedError,
  ClusterOffError,
  LimitExceededError,
  ObjectAlreadySealedError,
  ObjectExistsError,
  ObjectNotFoundError,
  ObjectNotSealedError,
  PlasmaConnectionError,
  PlasmaError,
  ProtocolError,
  StoreFullError,
} from "../../src/protocol/errors.ts";
import { FLAG_ERROR, FLAG_MORE, FLAG_REPLY } from "../../src/protocol/frame.ts";
import {
  FRAME_HEADER_BYTES,
  MAX_TIMEOUT_MS,
  PROTOCOL_VERSION,
  WELCOME_MAGIC,
} from "../../src/protocol/limits.ts";
import { OBJECT_ID_BYTES, objectKey } from "../../src/protocol/object-id.ts";

/**
 * Every message through its codec: what is encoded decodes back to the same value, the frame header
 * carries the message's type, flags and request id, and every strict prefix of a body (truncated) and
 * every body with bytes after it (over-long) is a ProtocolError, as is any other failure on random bytes.
 */

const U32_MAX = 0xffff_ffff;
const u32 = fc.integer({ min: 0, max: U32_MAX });
const u64 = fc.maxSafeNat();
const id = fc.uint8Array({ minLength: OBJECT_ID_BYTES, maxLength: OBJECT_ID_BYTES });
const ids = fc.array(id, { maxLength: 12 });
const blob = fc.uint8Array({ maxLength: 48 });
const text = fc.string({ unit: "grapheme", maxLength: 40 });
const timeoutMs = fc.integer({ min: -1, max: MAX_TIMEOUT_MS });
const location = fc.record({ offset: u64, dataSize: u64, metadataSize: u32 });
const requestId = fc.integer({ min: 1, max: U32_MAX });
const nodeName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/);
const clusterNode: fc.Arbitrary<ClusterNodeWire> = fc.record({
  name: nodeName,
  transferAddress: fc.stringMatching(/^[a-z0-9.-]{1,40}:[0-9]{1,5}$/),
  capacityBytes: u64,
  usedBytes: u64,
  startTimeMs: fc.double({ noNaN: true }),
  self: fc.boolean(),
});
const ERROR_CLASSES = [
  ObjectExistsError,
  ObjectNotFoundError,
  ObjectAlreadySealedError,
  ObjectNotSealedError,
  StoreFullError,
  ProtocolError,
  LimitExceededError,
  AccessDeniedError,
  PlasmaConnectionError,
  ClusterOffError,
  PlasmaError,
] as const;
const plasmaError = fc
  .tuple(fc.constantFrom(...ERROR_CLASSES), text)
  .map(([ErrorClass, message]) => new ErrorClass(message));

/** One direction of one message: how to make values, write them as a frame and read the body back. */
interface Case<T> {
  name: string;
  type: number;
  flags: number;
  /** False for the frames that always carry request id 0 (Welcome, PollAdvice). */
  hasRequestId: boolean;
  values: fc.Arbitrary<T>;
  encode(out: ByteWriter, requestId: number, value: T): void;
  decode(r: ByteReader): unknown;
  /** What decode gives back for `value` (default: value itself). */
  decoded?(value: T): unknown;
}

function request<T>(
  name: string,
  type: number,
  values: fc.Arbitrary<T>,
  encode: (out: ByteWriter, requestId: number, value: T) => void,
  decode: (r: ByteReader) => unknown,
  decoded?: (value: T) => unknown,
): Case<T> {
  return { name: `${name} request`, type, flags: 0, hasRequestId: true, values, encode, decode, decoded };
}

function reply<T>(
  name: string,
  type: number,
  values: fc.Arbitrary<T>,
  encode: (out: ByteWriter, requestId: number, value: T) => void,
  decode: (r: ByteReader) => unknown,
  decoded?: (value: T) => unknown,
): Case<T> {
  return {
    name: `${name} reply`,
    type,
    flags: FLAG_REPLY,
    hasRequestId: true,
    values,
    encode,
    decode,
    decoded,
  };
}

const none = fc.constant(undefined);
const ERROR_FIELDS = (e: PlasmaError) => ({ class: e.constructor, message: e.message });

const welcome = fc.record({
  version: fc.constant(PROTOCOL_VERSION),
  capacityBytes: u64,
  arenaBytes: u64,
  clientId: u32,
  maxObjectBytes: u64,
  maxMetadataBytes: u32,
  maxIdsPerRequest: u32,
  readOnly: fc.boolean(),
});
const listEntry = fc.record({
  id,
  dataSize: u64,
  metadataSize: u32,
  refCount: u32,
  createTime: fc.double(),
  constructDurationMs: fc.double(),
  state: fc.constantFrom("created" as const, "sealed" as const),
});
/** Sub-frames of a Batch: any type that may travel in one, any known flags, any body. */
const batchFrames = fc.array(
  fc.record({
    type: fc.constantFrom(
      ...Object.values(MessageType).filter(
        (t) => t !== MessageType.Batch && t !== MessageType.Hello && t !== MessageType.Welcome,
      ),
    ),
    flags: fc.constantFrom(0, FLAG_REPLY, FLAG_REPLY | FLAG_ERROR, FLAG_REPLY | FLAG_MORE),
    requestId: u32,
    body: blob,
  }),
  { minLength: 1, maxLength: 6 },
);
const notification = fc.record({ id, dataSize: u64, metadataSize: u32, deleted: fc.boolean() });
const getEntries = fc.array(fc.option(location, { nil: null }), { maxLength: 12 });
const metadataEntries = fc.array(fc.option(blob, { nil: null }), { maxLength: 12 });

const CASES: Case<unknown>[] = [
  {
    name: "Welcome",
    type: MessageType.Welcome,
    flags: 0,
    hasRequestId: false,
    values: welcome,
    encode: (out, _requestId, w) => WelcomeCodec.encode(out, w),
    decode: (r) => WelcomeCodec.decode(r),
  } satisfies Case<Welcome>,
  {
    name: "Welcome refusal",
    type: MessageType.Welcome,
    flags: 0,
    hasRequestId: false,
    values: plasmaError,
    encode: (out, _requestId, error) => WelcomeCodec.encodeRefusal(out, error),
    decode: (r) => ERROR_FIELDS(WelcomeCodec.decode(r) as PlasmaError),
    decoded: ERROR_FIELDS,
  } satisfies Case<PlasmaError>,
  {
    name: "PollAdvice",
    type: MessageType.PollAdvice,
    flags: 0,
    hasRequestId: false,
    values: fc.integer({ min: 0, max: MAX_ADVISED_POLL_US }),
    encode: (out, _requestId, pollUs) => PollAdviceCodec.encode(out, pollUs),
    decode: (r) => PollAdviceCodec.decode(r),
  } satisfies Case<number>,
  {
    name: "error reply",
    type: MessageType.Get,
    flags: FLAG_REPLY | FLAG_ERROR,
    hasRequestId: true,
    values: plasmaError,
    encode: (out, requestId, error) => ErrorReplyCodec.encode(out, MessageType.Get, requestId, error),
    decode: (r) => ERROR_FIELDS(ErrorReplyCodec.decode(r)),
    decoded: ERROR_FIELDS,
  } satisfies Case<PlasmaError>,
  {
    name: "Notification",
    type: MessageType.Notification,
    flags: FLAG_REPLY,
    hasRequestId: true,
    values: fc.array(notification, { maxLength: 12 }),
    encode: NotificationCodec.encode,
    decode: NotificationCodec.decode,
  } satisfies Case<NotificationWire[]>,

  {
    name: "Batch request",
    type: MessageType.Batch,
    flags: 0,
    hasRequestId: false,
    values: batchFrames,
    encode: BatchCodec.encodeRequest,
    decode: BatchCodec.decodeRequest,
  } satisfies Case<BatchFrame[]>,
  {
    name: "Batch reply",
    type: MessageType.Batch,
    flags: FLAG_REPLY,
    hasRequestId: false,
    values: batchFrames,
    encode: BatchCodec.encodeReply,
    decode: BatchCodec.decodeReply,
  } satisfies Case<BatchFrame[]>,

  request(
    "Hello",
    MessageType.Hello,
    fc.record({ version: fc.integer({ min: 0, max: 0xffff }), pid: u32 }),
    HelloCodec.encodeRequest,
    HelloCodec.decodeRequest,
  ),
  reply("Hello", MessageType.Hello, none, HelloCodec.encodeReply, HelloCodec.decodeReply),

  request(
    "Create",
    MessageType.Create,
    fc.record({ id, dataSize: u64, metadata: blob, waitMs: timeoutMs }),
    CreateCodec.encodeRequest,
    (r) => CreateCodec.decodeRequest(r),
  ),
  reply("Create", MessageType.Create, location, CreateCodec.encodeReply, CreateCodec.decodeReply),

  request(
    "CreateAndSeal",
    MessageType.CreateAndSeal,
    fc.record({ id, metadata: blob, data: blob }),
    CreateAndSealCodec.encodeRequest,
    (r) => CreateAndSealCodec.decodeRequest(r),
  ),
  reply(
    "CreateAndSeal",
    MessageType.CreateAndSeal,
    none,
    CreateAndSealCodec.encodeReply,
    CreateAndSealCodec.decodeReply,
  ),

  request("Seal", MessageType.Seal, id, SealCodec.encodeRequest, SealCodec.decodeRequest),
  request("Seal (key)", MessageType.Seal, id, SealCodec.encodeRequest, SealCodec.decodeRequestKey, objectKey),
  reply("Seal", MessageType.Seal, none, SealCodec.encodeReply, SealCodec.decodeReply),

  request("Abort", MessageType.Abort, id, AbortCodec.encodeRequest, AbortCodec.decodeRequest),
  request(
    "Abort (key)",
    MessageType.Abort,
    id,
    AbortCodec.encodeRequest,
    AbortCodec.decodeRequestKey,
    objectKey,
  ),
  reply("Abort", MessageType.Abort, none, AbortCodec.encodeReply, AbortCodec.decodeReply),

  request("Get", MessageType.Get, fc.record({ ids, timeoutMs }), GetCodec.encodeRequest, (r) =>
    GetCodec.decodeRequest(r),
  ),
  request(
    "Get (keys)",
    MessageType.Get,
    fc.record({ ids, timeoutMs }),
    GetCodec.encodeRequest,
    (r) => GetCodec.decodeRequestKeys(r),
    (req) => ({ keys: req.ids.map(objectKey), timeoutMs: req.timeoutMs }),
  ),
  request(
    "Get of one id",
    MessageType.Get,
    fc.record({ id, timeoutMs }),
    (out, requestId, req) => GetCodec.encodeRequestOne(out, requestId, req.id, req.timeoutMs),
    (r) => GetCodec.decodeRequest(r),
    (req) => ({ ids: [req.id], timeoutMs: req.timeoutMs }),
  ),
  request(
    "Get of one id now",
    MessageType.Get,
    id,
    GetCodec.encodeRequestOneNow,
    (r) => GetCodec.decodeRequest(r),
    (one) => ({ ids: [one], timeoutMs: 0 }),
  ),
  reply("Get", MessageType.Get, getEntries, GetCodec.encodeReply, (r) => GetCodec.decodeReply(r)),
  reply("Get (expected count)", MessageType.Get, getEntries, GetCodec.encodeReply, (r) =>
    GetCodec.decodeReply(r, new ByteReader(r.bytes).u32()),
  ),
  reply(
    "Get of one id",
    MessageType.Get,
    fc.option(location, { nil: null }),
    (out, requestId, entry) => GetCodec.encodeReply(out, requestId, [entry]),
    GetCodec.decodeReplyOne,
  ),

  request(
    "GetMetadata",
    MessageType.GetMetadata,
    fc.record({ ids, timeoutMs }),
    GetMetadataCodec.encodeRequest,
    (r) => GetMetadataCodec.decodeRequest(r),
  ),
  request(
    "GetMetadata (keys)",
    MessageType.GetMetadata,
    fc.record({ ids, timeoutMs }),
    GetMetadataCodec.encodeRequest,
    (r) => GetMetadataCodec.decodeRequestKeys(r),
    (req) => ({ keys: req.ids.map(objectKey), timeoutMs: req.timeoutMs }),
  ),
  reply("GetMetadata", MessageType.GetMetadata, metadataEntries, GetMetadataCodec.encodeReply, (r) =>
    GetMetadataCodec.decodeReply(r),
  ),

  request(
    "Release",
    MessageType.Release,
    fc.record({ id, count: fc.integer({ min: 1, max: U32_MAX }) }),
    ReleaseCodec.encodeRequest,
    ReleaseCodec.decodeRequest,
  ),
  request(
    "Release (key)",
    MessageType.Release,
    fc.record({ id, count: fc.integer({ min: 1, max: U32_MAX }) }),
    ReleaseCodec.encodeRequest,
    ReleaseCodec.decodeRequestKey,
    (req) => ({ key: objectKey(req.id), count: req.count }),
  ),
  reply("Release", MessageType.Release, none, ReleaseCodec.encodeReply, ReleaseCodec.decodeReply),

  request("Contains", MessageType.Contains, id, ContainsCodec.encodeRequest, ContainsCodec.decodeRequest),
  request(
    "Contains (key)",
    MessageType.Contains,
    id,
    ContainsCodec.encodeRequest,
    ContainsCodec.decodeRequestKey,
    objectKey,
  ),
  reply("Contains", MessageType.Contains, fc.boolean(), ContainsCodec.encodeReply, ContainsCodec.decodeReply),

  request("Delete", MessageType.Delete, ids, DeleteCodec.encodeRequest, (r) => DeleteCodec.decodeRequest(r)),
  request(
    "Delete (keys)",
    MessageType.Delete,
    ids,
    DeleteCodec.encodeRequest,
    (r) => DeleteCodec.decodeRequestKeys(r),
    (list) => list.map(objectKey),
  ),
  reply("Delete", MessageType.Delete, u64, DeleteCodec.encodeReply, DeleteCodec.decodeReply),

  request("Evict", MessageType.Evict, u64, EvictCodec.encodeRequest, EvictCodec.decodeRequest),
  reply("Evict", MessageType.Evict, u64, EvictCodec.encodeReply, EvictCodec.decodeReply),

  request("Hash", MessageType.Hash, id, HashCodec.encodeRequest, HashCodec.decodeRequest),
  request("Hash (key)", MessageType.Hash, id, HashCodec.encodeRequest, HashCodec.decodeRequestKey, objectKey),
  reply(
    "Hash",
    MessageType.Hash,
    fc.uint8Array({ minLength: 8, maxLength: 8 }),
    HashCodec.encodeReply,
    HashCodec.decodeReply,
  ),

  request("List", MessageType.List, none, ListCodec.encodeRequest, ListCodec.decodeRequest),
  reply(
    "List",
    MessageType.List,
    fc.array(listEntry, { maxLength: 8 }),
    ListCodec.encodeReply,
    ListCodec.decodeReply,
  ),

  request(
    "Subscribe",
    MessageType.Subscribe,
    none,
    SubscribeCodec.encodeRequest,
    SubscribeCodec.decodeRequest,
  ),
  reply("Subscribe", MessageType.Subscribe, none, SubscribeCodec.encodeReply, SubscribeCodec.decodeReply),

  request(
    "PinsReleased",
    MessageType.PinsReleased,
    none,
    PinsReleasedCodec.encodeRequest,
    PinsReleasedCodec.decodeRequest,
  ),
  reply(
    "PinsReleased",
    MessageType.PinsReleased,
    none,
    PinsReleasedCodec.encodeReply,
    PinsReleasedCodec.decodeReply,
  ),

  request(
    "StoreInfo",
    MessageType.StoreInfo,
    none,
    StoreInfoCodec.encodeRequest,
    StoreInfoCodec.decodeRequest,
  ),
  reply(
    "StoreInfo",
    MessageType.StoreInfo,
    fc.record({ capacityBytes: u64, usedBytes: u64, objectCount: u32, clientCount: u32 }),
    StoreInfoCodec.encodeReply,
    StoreInfoCodec.decodeReply,
  ),

  request(
    "DebugString",
    MessageType.DebugString,
    none,
    DebugStringCodec.encodeRequest,
    DebugStringCodec.decodeRequest,
  ),
  reply(
    "DebugString",
    MessageType.DebugString,
    text,
    DebugStringCodec.encodeReply,
    DebugStringCodec.decodeReply,
  ),

  request("Locate", MessageType.Locate, ids, LocateCodec.encodeRequest, LocateCodec.decodeRequest),
  reply(
    "Locate",
    MessageType.Locate,
    fc.array(fc.array(nodeName, { maxLength: 5 }), { maxLength: 8 }),
    LocateCodec.encodeReply,
    LocateCodec.decodeReply,
  ),

  request("Nodes", MessageType.Nodes, none, NodesCodec.encodeRequest, NodesCodec.decodeRequest),
  reply(
    "Nodes",
    MessageType.Nodes,
    fc.array(clusterNode, { maxLength: 6 }),
    NodesCodec.encodeReply,
    NodesCodec.decodeReply,
  ),
];

interface Frame {
  type: number;
  flags: number;
  requestId: number;
  body: Uint8Array;
}

function encodeFrame<T>(c: Case<T>, id: number, value: T): Frame {
  const out = new ByteWriter(16);
  c.encode(out, id, value);
  const frame = out.bytes.slice(0, out.length);
  const view = new DataView(frame.buffer);
  expect(view.getUint32(0, true)).toBe(frame.length - FRAME_HEADER_BYTES);
  return {
    type: view.getUint16(4, true),
    flags: view.getUint16(6, true),
    requestId: view.getUint32(8, true),
    body: frame.subarray(FRAME_HEADER_BYTES),
  };
}

/** decode(bytes) must throw a ProtocolError. */
function expectProtocolError(c: Case<unknown>, bytes: Uint8Array): void {
  let thrown: unknown = null;
  try {
    c.decode(new ByteReader(bytes));
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ProtocolError);
}

test("every message type has a request or one-way codec and a reply in the cases", () => {
  const covered = new Set(CASES.map((c) => c.type));
  for (const type of Object.values(MessageType)) expect(covered.has(type)).toBe(true);
});

describe.each(CASES.map((c) => [c.name, c] as const))("%s", (_name, c) => {
  test("round-trips through its codec, with its type, flags and request id", () => {
    fc.assert(
      fc.property(c.values, requestId, (value, id) => {
        const frame = encodeFrame(c, id, value);
        expect(frame.type).toBe(c.type);
        expect(frame.flags).toBe(c.flags);
        expect(frame.requestId).toBe(c.hasRequestId ? id : 0);
        const expected = c.decoded === undefined ? value : c.decoded(value);
        expect(c.decode(new ByteReader(frame.body))).toEqual(expected);
      }),
    );
  });

  test("every truncated body is a ProtocolError", () => {
    fc.assert(
      fc.property(c.values, (value) => {
        const { body } = encodeFrame(c, 1, value);
        for (let length = 0; length < body.length; length++) expectProtocolError(c, body.slice(0, length));
      }),
      { numRuns: 30 },
    );
  });

  test("every over-long body is a ProtocolError", () => {
    fc.assert(
      fc.property(c.values, fc.uint8Array({ minLength: 1, maxLength: 16 }), (value, extra) => {
        const { body } = encodeFrame(c, 1, value);
        const longer = new Uint8Array(body.length + extra.length);
        longer.set(body);
        longer.set(extra, body.length);
        expectProtocolError(c, longer);
      }),
    );
  });

  test("random bytes decode or are a ProtocolError, never another exception", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 96 }), (bytes) => {
        try {
          c.decode(new ByteReader(bytes));
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError);
        }
      }),
    );
  });
});

test("a Welcome of another version is a version mismatch, whatever follows the version", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff }).filter((v) => v !== PROTOCOL_VERSION),
      fc.uint8Array({ maxLength: 64 }),
      (version, rest) => {
        const body = new ByteWriter();
        body.u32(WELCOME_MAGIC);
        body.u16(version);
        body.raw(rest);
        const decode = () => WelcomeCodec.decode(new ByteReader(body.bytes.subarray(0, body.length)));
        expect(decode).toThrow(ProtocolError);
        expect(decode).toThrow(
          `Protocol version mismatch: the plasma_store speaks version ${version}, this client speaks ${PROTOCOL_VERSION}`,
        );
      },
    ),
  );
});

test("limits: a count over the id limit, a timeout out of range, a zero release, a short hash", () => {
  const tooMany = new ByteWriter();
  tooMany.i32(0);
  tooMany.u32(2);
  expect(() => GetCodec.decodeRequest(new ByteReader(tooMany.bytes.subarray(0, 8)), 1)).toThrow(
    ProtocolError,
  );
  const badTimeout = new ByteWriter();
  badTimeout.i32(-2);
  badTimeout.u32(0);
  expect(() => GetCodec.decodeRequest(new ByteReader(badTimeout.bytes.subarray(0, 8)))).toThrow(
    ProtocolError,
  );
  const zeroRelease = new ByteWriter();
  zeroRelease.id(new Uint8Array(OBJECT_ID_BYTES));
  zeroRelease.u32(0);
  expect(() => ReleaseCodec.decodeRequest(new ByteReader(zeroRelease.bytes.subarray(0, 24)))).toThrow(
    ProtocolError,
  );
  const shortHash = new ByteWriter();
  shortHash.blob(new Uint8Array(7));
  expect(() => HashCodec.decodeReply(new ByteReader(shortHash.bytes.subarray(0, 11)))).toThrow(ProtocolError);
  const wrongCount = new ByteWriter();
  GetCodec.encodeReply(wrongCount, 1, [null, null]);
  const body = wrongCount.bytes.subarray(FRAME_HEADER_BYTES, wrongCount.length);
  expect(() => GetCodec.decodeReply(new ByteReader(body), 3)).toThrow(ProtocolError);
  expect(() => GetCodec.decodeReplyOne(new ByteReader(body))).toThrow(ProtocolError);
});

describe("Batch limits", () => {
  const sub = (type: number): BatchFrame => ({ type, flags: 0, requestId: 1, body: new Uint8Array(3) });
  const bodyOf = (frames: BatchFrame[]) => {
    const out = new ByteWriter();
    BatchCodec.encodeRequest(out, 0, frames);
    return out.bytes.slice(FRAME_HEADER_BYTES, out.length);
  };

  test("a count of 0 or over MAX_BATCH_FRAMES, a nested Batch, a Hello or Welcome inside are ProtocolErrors", () => {
    const countOf = (count: number) => {
      const body = bodyOf([sub(MessageType.Seal)]);
      new DataView(body.buffer).setUint32(0, count, true);
      return body;
    };
    expect(() => BatchCodec.decodeRequest(new ByteReader(countOf(0)))).toThrow(ProtocolError);
    expect(() => BatchCodec.decodeRequest(new ByteReader(countOf(MAX_BATCH_FRAMES + 1)))).toThrow(
      /1 to 4096/,
    );
    for (const type of [MessageType.Batch, MessageType.Hello, MessageType.Welcome]) {
      const body = bodyOf([sub(MessageType.Seal), sub(type)]);
      expect(() => BatchCodec.decodeRequest(new ByteReader(body))).toThrow(/cannot travel inside a Batch/);
    }
  });

  test("a malformed batch hands out none of its sub-frames", () => {
    const body = bodyOf([sub(MessageType.Seal), sub(MessageType.Delete)]);
    const truncated = body.subarray(0, body.length - 1);
    const seen: number[] = [];
    expect(() => BatchCodec.forEachFrame(new ByteReader(truncated), (type) => seen.push(type))).toThrow(
      ProtocolError,
    );
    expect(seen).toEqual([]);
    BatchCodec.forEachFrame(new ByteReader(body), (type) => seen.push(type));
    expect(seen).toEqual([MessageType.Seal, MessageType.Delete]);
  });

  test("a body over MAX_BATCH_BODY_BYTES is a ProtocolError", () => {
    const big = bodyOf([
      { type: MessageType.CreateAndSeal, flags: 0, requestId: 1, body: new Uint8Array(MAX_BATCH_BODY_BYTES) },
    ]);
    expect(() => BatchCodec.decodeRequest(new ByteReader(big))).toThrow(/at most/);
  });

  test("batchableCount: several whole frames of types a batch carries, within the limits; else 0", () => {
    const out = new ByteWriter();
    out.skip(4);
    SealCodec.encodeRequest(out, 1, new Uint8Array(OBJECT_ID_BYTES));
    expect(BatchCodec.batchableCount(out.bytes, out.view, 4, out.length)).toBe(0);
    ContainsCodec.encodeRequest(out, 2, new Uint8Array(OBJECT_ID_BYTES));
    expect(BatchCodec.batchableCount(out.bytes, out.view, 4, out.length)).toBe(2);
    expect(BatchCodec.batchableCount(out.bytes, out.view, 4, out.length - 1)).toBe(0);
    HelloCodec.encodeRequest(out, 3, { version: 1, pid: 1 });
    expect(BatchCodec.batchableCount(out.bytes, out.view, 4, out.length)).toBe(0);
  });
});
