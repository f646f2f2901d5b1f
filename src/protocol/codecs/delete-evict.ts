import type { ByteReader, ByteWriter } from "../bytes.ts";
import { beginFrame, endFrame } from "../frame.ts";
import { MAX_IDS_PER_REQUEST } from "../limits.ts";
import type { MessageCodec, Specialised } from "./codec.ts";
import { endBody, readIdKeys, readIds, writeIds, writeU64Reply } from "./fields.ts";
import { MessageType } from "./message-type.ts";

function readU64Reply(r: ByteReader, type: MessageType, what: string): number {
  const value = r.u64(what);
  endBody(r, type);
  return value;
}

/** Delete: u32 count, ids → u64 objects deleted at once (the rest go when their last reference ends). */
export const DeleteCodec = {
  type: MessageType.Delete,
  encodeRequest(out: ByteWriter, requestId: number, ids: readonly Uint8Array[]): void {
    const at = beginFrame(out, MessageType.Delete, 0, requestId);
    writeIds(out, ids);
    endFrame(out, at);
  },
  decodeRequest(r: ByteReader, maxIds = MAX_IDS_PER_REQUEST): Uint8Array[] {
    const ids = readIds(r, maxIds);
    endBody(r, MessageType.Delete);
    return ids;
  },
  /** decodeRequest for the store: the ids as map keys, without a view per id. */
  decodeRequestKeys(r: ByteReader, maxIds = MAX_IDS_PER_REQUEST): string[] {
    const keys = readIdKeys(r, maxIds);
    endBody(r, MessageType.Delete);
    return keys;
  },
  encodeReply(out: ByteWriter, requestId: number, deletedNow: number): void {
    writeU64Reply(out, MessageType.Delete, requestId, deletedNow);
  },
  decodeReply(r: ByteReader): number {
    return readU64Reply(r, MessageType.Delete, "deleted");
  },
} as const satisfies MessageCodec<readonly Uint8Array[], number> & Specialised;

/** Evict: u64 bytes to free → u64 bytes freed. */
export const EvictCodec = {
  type: MessageType.Evict,
  encodeRequest(out: ByteWriter, requestId: number, bytes: number): void {
    const at = beginFrame(out, MessageType.Evict, 0, requestId);
    out.u64(bytes);
    endFrame(out, at);
  },
  decodeRequest(r: ByteReader): number {
    const bytes = r.u64("bytes");
    endBody(r, MessageType.Evict);
    return bytes;
  },
  encodeReply(out: ByteWriter, requestId: number, bytesFreed: number): void {
    writeU64Reply(out, MessageType.Evict, requestId, bytesFreed);
  },
  decodeReply(r: ByteReader): number {
    return readU64Reply(r, MessageType.Evict, "freed");
  },
} as const satisfies MessageCodec<number, number>;
