import type { ByteReader, ByteWriter } from "../bytes.ts";
import { beginFrame, endFrame, FLAG_REPLY } from "../frame.ts";
import { MAX_IDS_PER_REQUEST, MAX_METADATA_BYTES } from "../limits.ts";
import type { MessageCodec, Specialised } from "./codec.ts";
import {
  endBody,
  type ObjectLocation,
  readIdKeys,
  readIds,
  readLocation,
  readReplyCount,
  readTimeout,
  writeIds,
  writeLocation,
} from "./fields.ts";
import { MIN_GET_REPLY_ENTRY_BYTES } from "./layout.ts";
import { MessageType } from "./message-type.ts";

/** Get and GetMetadata requests: i32 timeoutMs (-1 forever), u32 count, ids. */
export interface GetRequest {
  ids: readonly Uint8Array[];
  timeoutMs: number;
}

/** A get request decoded for the store: the ids as map keys (objectKey). */
export interface GetKeysRequest {
  keys: string[];
  timeoutMs: number;
}

/** One entry of a get reply: where the object is, or null if it was not there in time. */
export type GetReplyEntry = ObjectLocation | null;

type GetType = typeof MessageType.Get | typeof MessageType.GetMetadata;

function writeGetRequest(out: ByteWriter, type: GetType, requestId: number, req: GetRequest): void {
  const at = beginFrame(out, type, 0, requestId);
  out.i32(req.timeoutMs);
  writeIds(out, req.ids);
  endFrame(out, at);
}

function readGetRequest(r: ByteReader, type: GetType, maxIds: number): GetRequest {
  const timeoutMs = readTimeout(r, "timeout");
  const ids = readIds(r, maxIds);
  endBody(r, type);
  return { ids, timeoutMs };
}

function readGetKeysRequest(r: ByteReader, type: GetType, maxIds: number): GetKeysRequest {
  const timeoutMs = readTimeout(r, "timeout");
  const keys = readIdKeys(r, maxIds);
  endBody(r, type);
  return { keys, timeoutMs };
}

function readGetEntry(r: ByteReader): GetReplyEntry {
  return r.u8("found") === 0 ? null : readLocation(r);
}

/**
 * Get: waits up to timeoutMs for the objects to be sealed → per id, its location or not found. Each
 * found entry is one grant the client gives back with Release.
 */
export const GetCodec = {
  type: MessageType.Get,
  encodeRequest(out: ByteWriter, requestId: number, req: GetRequest): void {
    writeGetRequest(out, MessageType.Get, requestId, req);
  },
  /** The hot path: a get of one id, without an array. */
  encodeRequestOne(out: ByteWriter, requestId: number, id: Uint8Array, timeoutMs: number): void {
    const at = beginFrame(out, MessageType.Get, 0, requestId);
    out.i32(timeoutMs);
    out.u32(1);
    out.id(id);
    endFrame(out, at);
  },
  /** encodeRequestOne with timeout 0, in the shape Connection.request takes (no closure per call). */
  encodeRequestOneNow(out: ByteWriter, requestId: number, id: Uint8Array): void {
    GetCodec.encodeRequestOne(out, requestId, id, 0);
  },
  decodeRequest(r: ByteReader, maxIds = MAX_IDS_PER_REQUEST): GetRequest {
    return readGetRequest(r, MessageType.Get, maxIds);
  },
  /** decodeRequest for the store: the ids as map keys, without a view per id. */
  decodeRequestKeys(r: ByteReader, maxIds = MAX_IDS_PER_REQUEST): GetKeysRequest {
    return readGetKeysRequest(r, MessageType.Get, maxIds);
  },
  encodeReply(out: ByteWriter, requestId: number, entries: readonly GetReplyEntry[]): void {
    const at = beginFrame(out, MessageType.Get, FLAG_REPLY, requestId);
    out.u32(entries.length);
    for (const e of entries) {
      if (e === null) {
        out.u8(0);
        continue;
      }
      out.u8(1);
      writeLocation(out, e);
    }
    endFrame(out, at);
  },
  /** `expected`: the number of ids asked for (a reply with another count is a ProtocolError). */
  decodeReply(r: ByteReader, expected?: number): GetReplyEntry[] {
    const count = readReplyCount(r, MessageType.Get, expected, MIN_GET_REPLY_ENTRY_BYTES);
    const entries: GetReplyEntry[] = new Array(count);
    for (let i = 0; i < count; i++) entries[i] = readGetEntry(r);
    endBody(r, MessageType.Get);
    return entries;
  },
  /** decodeReply of the reply to a get of one id. */
  decodeReplyOne(r: ByteReader): GetReplyEntry {
    readReplyCount(r, MessageType.Get, 1, MIN_GET_REPLY_ENTRY_BYTES);
    const entry = readGetEntry(r);
    endBody(r, MessageType.Get);
    return entry;
  },
} as const satisfies MessageCodec<GetRequest, GetReplyEntry[]> & Specialised;

/** GetMetadata: a request like Get's → per id, a copy of its metadata or not found; takes no reference. */
export const GetMetadataCodec = {
  type: MessageType.GetMetadata,
  encodeRequest(out: ByteWriter, requestId: number, req: GetRequest): void {
    writeGetRequest(out, MessageType.GetMetadata, requestId, req);
  },
  decodeRequest(r: ByteReader, maxIds = MAX_IDS_PER_REQUEST): GetRequest {
    return readGetRequest(r, MessageType.GetMetadata, maxIds);
  },
  /** decodeRequest for the store: the ids as map keys, without a view per id. */
  decodeRequestKeys(r: ByteReader, maxIds = MAX_IDS_PER_REQUEST): GetKeysRequest {
    return readGetKeysRequest(r, MessageType.GetMetadata, maxIds);
  },
  encodeReply(out: ByteWriter, requestId: number, entries: readonly (Uint8Array | null)[]): void {
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
  },
  /** Copies of the metadata. `expected`: the number of ids asked for. */
  decodeReply(
    r: ByteReader,
    expected?: number,
    maxMetadataBytes = MAX_METADATA_BYTES,
  ): (Uint8Array | null)[] {
    const count = readReplyCount(r, MessageType.GetMetadata, expected, MIN_GET_REPLY_ENTRY_BYTES);
    const entries: (Uint8Array | null)[] = new Array(count);
    for (let i = 0; i < count; i++) {
      entries[i] = r.u8("found") === 0 ? null : r.blob(maxMetadataBytes, "metadata").slice();
    }
    endBody(r, MessageType.GetMetadata);
    return entries;
  },
} as const satisfies MessageCodec<GetRequest, (Uint8Array | null)[]> & Specialised;
