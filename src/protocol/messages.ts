import { ByteReader, ByteWriter } from "./bytes.ts";
import { errorFromWire, errorToWireCode, type PlasmaError, ProtocolError } from "./errors.ts";
import { beginFrame, endFrame, FLAG_ERROR, FLAG_REPLY } from "./frame.ts";
import { MAX_TIMEOUT_MS, PROTOCOL_VERSION, WELCOME_MAGIC } from "./limits.ts";

/**
 * One encode/decode pair per message, shared by store and client. Layouts are in docs/protocol.md.
 * Decoders take untrusted bytes and check every length; they return views into the frame for ids and
 * blobs, which the caller copies if it keeps them.
 */
export const MessageType = {
  Welcome: 0,
  Hello: 1,
  Create: 2,
  CreateAndSeal: 3,
  Seal: 4,
  Abort: 5,
  Get: 6,
  GetMetadata: 7,
  Release: 8,
  Contains: 9,
  Delete: 10,
  Evict: 11,
  Hash: 12,
  List: 13,
  Subscribe: 14,
  Notification: 15,
  StoreInfo: 16,
  DebugString: 17,
  PollAdvice: 18,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];
export const MESSAGE_TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(MessageType).map(([name, code]) => [code, name]),
);

/** Largest error message carried in an error frame. */
const MAX_ERROR_MESSAGE_BYTES = 64 * 1024;
/** Largest debug string. */
const MAX_DEBUG_STRING_BYTES = 16 * 1024 * 1024;

// ---------------------------------------------------------------- welcome (store → client, with the fd)

export interface Welcome {
  version: number;
  capacityBytes: number;
  arenaBytes: number;
  clientId: number;
  maxObjectBytes: number;
  maxMetadataBytes: number;
  maxIdsPerRequest: number;
}

export function encodeWelcome(out: ByteWriter, w: Welcome): void {
  const at = beginFrame(out, MessageType.Welcome, 0, 0);
  out.u32(WELCOME_MAGIC);
  out.u16(w.version);
  out.u8(0);
  out.u64(w.capacityBytes);
  out.u64(w.arenaBytes);
  out.u32(w.clientId);
  out.u64(w.maxObjectBytes);
  out.u32(w.maxMetadataBytes);
  out.u32(w.maxIdsPerRequest);
  endFrame(out, at);
}

/** A refusal instead of a welcome (no fd is sent with it). */
export function encodeWelcomeRefusal(out: ByteWriter, error: PlasmaError): void {
  const at = beginFrame(out, MessageType.Welcome, 0, 0);
  out.u32(WELCOME_MAGIC);
  out.u16(PROTOCOL_VERSION);
  out.u8(errorToWireCode(error) || 255);
  out.string(error.message);
  endFrame(out, at);
}

/** Decodes the body of a welcome frame: the welcome, or the store's refusal as a typed error. */
export function decodeWelcome(body: Uint8Array): Welcome | PlasmaError {
  const r = new ByteReader(body);
  if (r.u32("magic") !== WELCOME_MAGIC)
    throw new ProtocolError("The peer is not a plasma_store (bad magic).");
  const version = r.u16("version");
  const status = r.u8("status");
  if (status !== 0) return errorFromWire(status, r.string(MAX_ERROR_MESSAGE_BYTES, "refusal"));
  return {
    version,
    capacityBytes: r.u64("capacity"),
    arenaBytes: r.u64("arena size"),
    clientId: r.u32("client id"),
    maxObjectBytes: r.u64("max object size"),
    maxMetadataBytes: r.u32("max metadata size"),
    maxIdsPerRequest: r.u32("max ids"),
  };
}

// ---------------------------------------------------------------- generic replies

export function encodeErrorReply(out: ByteWriter, type: number, requestId: number, error: PlasmaError): void {
  const at = beginFrame(out, type, FLAG_REPLY | FLAG_ERROR, requestId);
  out.u16(errorToWireCode(error));
  out.string(error.message);
  endFrame(out, at);
}

export function decodeErrorReply(body: Uint8Array): PlasmaError {
  const r = new ByteReader(body);
  const code = r.u16("error code");
  return errorFromWire(code, r.string(MAX_ERROR_MESSAGE_BYTES, "error message"));
}

export function encodeEmptyReply(out: ByteWriter, type: number, requestId: number): void {
  endFrame(out, beginFrame(out, type, FLAG_REPLY, requestId));
}

// ---------------------------------------------------------------- poll advice (store → client)

/** Longest client polling window the store may advise (µs); a larger advice is a protocol error. */
export const MAX_ADVISED_POLL_US = 10_000;

/**
 * How long the client should keep its event loop turning while it waits for a reply, in µs (0: sleep at
 * once). Unsolicited (request id 0); sent after Hello and whenever the advice changes.
 */
export function encodePollAdvice(out: ByteWriter, pollUs: number): void {
  const at = beginFrame(out, MessageType.PollAdvice, 0, 0);
  out.u32(pollUs);
  endFrame(out, at);
}

export function decodePollAdvice(r: ByteReader): number {
  const pollUs = r.u32("pollUs");
  r.end("PollAdvice");
  if (pollUs > MAX_ADVISED_POLL_US) {
    throw new ProtocolError(`PollAdvice of ${pollUs} µs is over the limit of ${MAX_ADVISED_POLL_US} µs.`);
  }
  return pollUs;
}

export function encodeEmptyRequest(out: ByteWriter, type: number, requestId: number): void {
  endFrame(out, beginFrame(out, type, 0, requestId));
}

// ---------------------------------------------------------------- hello

export function encodeHello(out: ByteWriter, requestId: number, version: number, pid: number): void {
  const at = beginFrame(out, MessageType.Hello, 0, requestId);
  out.u16(version);
  out.u32(pid);
  endFrame(out, at);
}

export function decodeHello(r: ByteReader): { version: number; pid: number } {
  return { version: r.u16("version"), pid: r.u32("pid") };
}

// ---------------------------------------------------------------- requests naming one id

/** Seal, Abort, Contains, Hash. */
export function encodeIdRequest(out: ByteWriter, type: number, requestId: number, id: Uint8Array): void {
  const at = beginFrame(out, type, 0, requestId);
  out.id(id);
  endFrame(out, at);
}

// ---------------------------------------------------------------- create

export interface CreateRequest {
  id: Uint8Array;
  dataSize: number;
  metadata: Uint8Array;
  /** How long to wait for memory held by others to be released: 0 fails at once, -1 waits forever. */
  waitMs: number;
}

export function encodeCreate(out: ByteWriter, requestId: number, req: CreateRequest): void {
  const at = beginFrame(out, MessageType.Create, 0, requestId);
  out.id(req.id);
  out.u64(req.dataSize);
  out.blob(req.metadata);
  out.i32(req.waitMs);
  endFrame(out, at);
}

export function decodeCreate(r: ByteReader, maxMetadataBytes: number): CreateRequest {
  return {
    id: r.id(),
    dataSize: r.u64("data size"),
    metadata: r.blob(maxMetadataBytes, "metadata"),
    waitMs: decodeTimeout(r, "wait"),
  };
}

export interface ObjectLocation {
  offset: number;
  dataSize: number;
  metadataSize: number;
}

export function encodeCreateReply(out: ByteWriter, requestId: number, loc: ObjectLocation): void {
  const at = beginFrame(out, MessageType.Create, FLAG_REPLY, requestId);
  out.u64(loc.offset);
  out.u64(loc.dataSize);
  out.u32(loc.metadataSize);
  endFrame(out, at);
}

export function decodeCreateReply(r: ByteReader): ObjectLocation {
  return { offset: r.u64("offset"), dataSize: r.u64("data size"), metadataSize: r.u32("metadata size") };
}

export interface CreateAndSealRequest {
  id: Uint8Array;
  metadata: Uint8Array;
  data: Uint8Array;
}

export function encodeCreateAndSeal(out: ByteWriter, requestId: number, req: CreateAndSealRequest): void {
  const at = beginFrame(out, MessageType.CreateAndSeal, 0, requestId);
  out.id(req.id);
  out.blob(req.metadata);
  out.blob(req.data);
  endFrame(out, at);
}

export function decodeCreateAndSeal(
  r: ByteReader,
  maxMetadataBytes: number,
  maxDataBytes: number,
): CreateAndSealRequest {
  return {
    id: r.id(),
    metadata: r.blob(maxMetadataBytes, "metadata"),
    data: r.blob(maxDataBytes, "data"),
  };
}

// ---------------------------------------------------------------- get / getMetadata

export interface GetRequest {
  ids: Uint8Array[];
  timeoutMs: number;
}

export function encodeGet(
  out: ByteWriter,
  type: typeof MessageType.Get | typeof MessageType.GetMetadata,
  requestId: number,
  ids: readonly Uint8Array[],
  timeoutMs: number,
): void {
  const at = beginFrame(out, type, 0, requestId);
  out.i32(timeoutMs);
  out.u32(ids.length);
  for (const id of ids) out.id(id);
  endFrame(out, at);
}

/** encodeGet of one id (no array). */
export function encodeGetOne(out: ByteWriter, requestId: number, id: Uint8Array, timeoutMs: number): void {
  const at = beginFrame(out, MessageType.Get, 0, requestId);
  out.i32(timeoutMs);
  out.u32(1);
  out.id(id);
  endFrame(out, at);
}

export function decodeGet(r: ByteReader, maxIds: number): GetRequest {
  const timeoutMs = decodeTimeout(r, "timeout");
  return { timeoutMs, ids: decodeIdList(r, maxIds) };
}

/** decodeGet for the store: the ids as map keys (objectKey), without a view per id. */
export function decodeGetKeys(r: ByteReader, maxIds: number): { timeoutMs: number; keys: string[] } {
  const timeoutMs = decodeTimeout(r, "timeout");
  return { timeoutMs, keys: decodeIdKeys(r, maxIds) };
}

/** One entry of a get reply: where the object is, or null if it was not there in time. */
export type GetReplyEntry = ObjectLocation | null;

export function encodeGetReply(out: ByteWriter, requestId: number, entries: readonly GetReplyEntry[]): void {
  const at = beginFrame(out, MessageType.Get, FLAG_REPLY, requestId);
  out.u32(entries.length);
  for (const e of entries) {
    if (e === null) {
      out.u8(0);
      continue;
    }
    out.u8(1);
    out.u64(e.offset);
    out.u64(e.dataSize);
    out.u32(e.metadataSize);
  }
  endFrame(out, at);
}

export function decodeGetReply(r: ByteReader, expected: number): GetReplyEntry[] {
  const count = r.u32("count");
  if (count !== expected) throw new ProtocolError(`Get reply has ${count} entries, expected ${expected}.`);
  const entries: GetReplyEntry[] = new Array(count);
  for (let i = 0; i < count; i++) {
    entries[i] = r.u8("found") === 0 ? null : decodeCreateReply(r);
  }
  return entries;
}

/** decodeGetReply of a reply to a get of one id. */
export function decodeGetReplyOne(r: ByteReader): GetReplyEntry {
  const count = r.u32("count");
  if (count !== 1) throw new ProtocolError(`Get reply has ${count} entries, expected 1.`);
  return r.u8("found") === 0 ? null : decodeCreateReply(r);
}

export function encodeGetMetadataReply(
  out: ByteWriter,
  requestId: number,
  entries: readonly (Uint8Array | null)[],
): void {
  const at = beginFrame(out, MessageType.GetMetadata, FLAG_REPLY, requestId);
  out.u32(entries.length);
  for (const e of entries) {
    if (e === null) {
      out.u8(0);
      continue;
    }
    out.u8(1);
    out.blob(e);
  }
  endFrame(out, at);
}

export function decodeGetMetadataReply(
  r: ByteReader,
  expected: number,
  maxMetadataBytes: number,
): (Uint8Array | null)[] {
  const count = r.u32("count");
  if (count !== expected)
    throw new ProtocolError(`GetMetadata reply has ${count} entries, expected ${expected}.`);
  const entries: (Uint8Array | null)[] = new Array(count);
  for (let i = 0; i < count; i++) {
    entries[i] = r.u8("found") === 0 ? null : r.blob(maxMetadataBytes, "metadata").slice();
  }
  return entries;
}

// ---------------------------------------------------------------- release

export function encodeRelease(out: ByteWriter, id: Uint8Array, count: number): void {
  const at = beginFrame(out, MessageType.Release, 0, 0);
  out.id(id);
  out.u32(count);
  endFrame(out, at);
}

export function decodeRelease(r: ByteReader): { id: Uint8Array; count: number } {
  const id = r.id();
  const count = r.u32("count");
  if (count === 0) throw new ProtocolError("Release of 0 references.");
  return { id, count };
}

// ---------------------------------------------------------------- delete

export function encodeIdList(
  out: ByteWriter,
  type: number,
  requestId: number,
  ids: readonly Uint8Array[],
): void {
  const at = beginFrame(out, type, 0, requestId);
  out.u32(ids.length);
  for (const id of ids) out.id(id);
  endFrame(out, at);
}

export function decodeIdList(r: ByteReader, maxIds: number): Uint8Array[] {
  const count = r.u32("id count");
  if (count > maxIds) throw new ProtocolError(`${count} ids in one request is over the limit of ${maxIds}.`);
  r.need(count * 20, "ids");
  const ids: Uint8Array[] = new Array(count);
  for (let i = 0; i < count; i++) ids[i] = r.id();
  return ids;
}

/** decodeIdList as map keys (objectKey), without a view per id. */
export function decodeIdKeys(r: ByteReader, maxIds: number): string[] {
  const count = r.u32("id count");
  if (count > maxIds) throw new ProtocolError(`${count} ids in one request is over the limit of ${maxIds}.`);
  r.need(count * 20, "ids");
  const keys: string[] = new Array(count);
  for (let i = 0; i < count; i++) keys[i] = r.key();
  return keys;
}

// ---------------------------------------------------------------- scalar replies

export function encodeU64(
  out: ByteWriter,
  type: number,
  flags: number,
  requestId: number,
  value: number,
): void {
  const at = beginFrame(out, type, flags, requestId);
  out.u64(value);
  endFrame(out, at);
}

export function encodeBoolReply(out: ByteWriter, type: number, requestId: number, value: boolean): void {
  const at = beginFrame(out, type, FLAG_REPLY, requestId);
  out.u8(value ? 1 : 0);
  endFrame(out, at);
}

export function encodeBytesReply(out: ByteWriter, type: number, requestId: number, value: Uint8Array): void {
  const at = beginFrame(out, type, FLAG_REPLY, requestId);
  out.blob(value);
  endFrame(out, at);
}

export function encodeStringReply(out: ByteWriter, type: number, requestId: number, value: string): void {
  const at = beginFrame(out, type, FLAG_REPLY, requestId);
  out.string(value);
  endFrame(out, at);
}

export function decodeDebugString(r: ByteReader): string {
  return r.string(MAX_DEBUG_STRING_BYTES, "debug string");
}

// ---------------------------------------------------------------- list

export type ObjectState = "created" | "sealed";

export interface ObjectInfoWire {
  id: Uint8Array;
  dataSize: number;
  metadataSize: number;
  refCount: number;
  createTime: number;
  constructDurationMs: number;
  state: ObjectState;
}

export function encodeListReply(
  out: ByteWriter,
  requestId: number,
  objects: readonly ObjectInfoWire[],
): void {
  const at = beginFrame(out, MessageType.List, FLAG_REPLY, requestId);
  out.u32(objects.length);
  for (const o of objects) {
    out.id(o.id);
    out.u64(o.dataSize);
    out.u32(o.metadataSize);
    out.u32(o.refCount);
    out.f64(o.createTime);
    out.f64(o.constructDurationMs);
    out.u8(o.state === "sealed" ? 1 : 0);
  }
  endFrame(out, at);
}

export function decodeListReply(r: ByteReader): ObjectInfoWire[] {
  const count = r.u32("count");
  r.need(count * 53, "list entries");
  const objects: ObjectInfoWire[] = new Array(count);
  for (let i = 0; i < count; i++) {
    objects[i] = {
      id: r.id().slice(),
      dataSize: r.u64("data size"),
      metadataSize: r.u32("metadata size"),
      refCount: r.u32("ref count"),
      createTime: r.f64("create time"),
      constructDurationMs: r.f64("construct duration"),
      state: r.u8("state") === 1 ? "sealed" : "created",
    };
  }
  return objects;
}

// ---------------------------------------------------------------- subscribe notifications

export interface NotificationWire {
  id: Uint8Array;
  dataSize: number;
  metadataSize: number;
  deleted: boolean;
}

export function encodeNotifications(
  out: ByteWriter,
  requestId: number,
  notes: readonly NotificationWire[],
): void {
  const at = beginFrame(out, MessageType.Notification, FLAG_REPLY, requestId);
  out.u32(notes.length);
  for (const n of notes) {
    out.id(n.id);
    out.u64(n.dataSize);
    out.u32(n.metadataSize);
    out.u8(n.deleted ? 1 : 0);
  }
  endFrame(out, at);
}

export function decodeNotifications(r: ByteReader): NotificationWire[] {
  const count = r.u32("count");
  r.need(count * 33, "notifications");
  const notes: NotificationWire[] = new Array(count);
  for (let i = 0; i < count; i++) {
    notes[i] = {
      id: r.id().slice(),
      dataSize: r.u64("data size"),
      metadataSize: r.u32("metadata size"),
      deleted: r.u8("deleted") === 1,
    };
  }
  return notes;
}

// ---------------------------------------------------------------- store info

export interface StoreInfoWire {
  capacityBytes: number;
  usedBytes: number;
  objectCount: number;
  clientCount: number;
}

export function encodeStoreInfoReply(out: ByteWriter, requestId: number, info: StoreInfoWire): void {
  const at = beginFrame(out, MessageType.StoreInfo, FLAG_REPLY, requestId);
  out.u64(info.capacityBytes);
  out.u64(info.usedBytes);
  out.u32(info.objectCount);
  out.u32(info.clientCount);
  endFrame(out, at);
}

export function decodeStoreInfoReply(r: ByteReader): StoreInfoWire {
  return {
    capacityBytes: r.u64("capacity"),
    usedBytes: r.u64("used"),
    objectCount: r.u32("objects"),
    clientCount: r.u32("clients"),
  };
}

// ---------------------------------------------------------------- helpers

function decodeTimeout(r: ByteReader, what: string): number {
  const ms = r.i32(what);
  if (ms < -1 || ms > MAX_TIMEOUT_MS)
    throw new ProtocolError(`${what} of ${ms} ms is out of range (-1 to ${MAX_TIMEOUT_MS}).`);
  return ms;
}

export { ByteReader, ByteWriter };
