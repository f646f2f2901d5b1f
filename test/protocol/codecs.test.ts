import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ByteReader, ByteWriter } from "../../src/protocol/bytes.ts";
import {
  AbortCodec,
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
  MAX_ADVISED_POLL_US,
  MessageType,
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
import { FLAG_ERROR, FLAG_REPLY } from "../../src/protocol/frame.ts";
import { FRAME_HEADER_BYTES, MAX_TIMEOUT_MS } from "../../src/protocol/limits.ts";
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
  version: fc.integer({ min: 0, max: 0xffff }),
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
