import type { ByteReader, ByteWriter } from "../bytes.ts";
import { beginFrame, endFrame, FLAG_MORE, FLAG_REPLY } from "../frame.ts";
import { emptyRequest, type MessageCodec } from "./codec.ts";
import { endBody, readReplyCount, writeTruncatedString } from "./fields.ts";
import { LIST_ENTRIES_PER_FRAME, LIST_ENTRY_BYTES, MAX_DEBUG_STRING_BYTES } from "./layout.ts";
import { MessageType } from "./message-type.ts";

// ---------------------------------------------------------------- List

/** Wire u8: 0 created, 1 sealed, 2 spilled (in the spill directory, not in memory; issue 16). */
export type ObjectState = "created" | "sealed" | "spilled";

export interface ObjectInfoWire {
  id: Uint8Array;
  dataSize: number;
  metadataSize: number;
  refCount: number;
  createTime: number;
  constructDurationMs: number;
  state: ObjectState;
}

function writeListFrame(
  out: ByteWriter,
  requestId: number,
  objects: readonly ObjectInfoWire[],
  start: number,
  end: number,
): void {
  const flags = end < objects.length ? FLAG_REPLY | FLAG_MORE : FLAG_REPLY;
  const at = beginFrame(out, MessageType.List, flags, requestId);
  out.u32(end - start);
  for (let i = start; i < end; i++) {
    const o = objects[i] as ObjectInfoWire;
    out.id(o.id);
    out.u64(o.dataSize);
    out.u32(o.metadataSize);
    out.u32(o.refCount);
    out.f64(o.createTime);
    out.f64(o.constructDurationMs);
    out.u8(o.state === "sealed" ? 1 : o.state === "spilled" ? 2 : 0);
  }
  endFrame(out, at);
}

/**
 * List: empty → every object, in one or more reply frames of u32 count, then LIST_ENTRY_BYTES per object.
 * Each frame holds at most LIST_ENTRIES_PER_FRAME objects; every frame but the last has FLAG_MORE.
 */
export const ListCodec = {
  type: MessageType.List,
  ...emptyRequest(MessageType.List),
  /** All of the reply: as many frames as the objects need (one, with count 0, for none). */
  encodeReply(out: ByteWriter, requestId: number, objects: readonly ObjectInfoWire[]): void {
    let start = 0;
    do {
      const end = Math.min(start + LIST_ENTRIES_PER_FRAME, objects.length);
      writeListFrame(out, requestId, objects, start, end);
      start = end;
    } while (start < objects.length);
  },
  /** The objects of one reply frame, with copies of their ids. */
  decodeReply(r: ByteReader): ObjectInfoWire[] {
    const count = readReplyCount(r, MessageType.List, undefined, LIST_ENTRY_BYTES);
    const objects: ObjectInfoWire[] = new Array(count);
    for (let i = 0; i < count; i++) {
      objects[i] = {
        id: r.id().slice(),
        dataSize: r.u64("data size"),
        metadataSize: r.u32("metadata size"),
        refCount: r.u32("ref count"),
        createTime: r.f64("create time"),
        constructDurationMs: r.f64("construct duration"),
        state: stateOfWire(r.u8("state")),
      };
    }
    endBody(r, MessageType.List);
    return objects;
  },
} as const satisfies MessageCodec<void, ObjectInfoWire[]>;

// ---------------------------------------------------------------- StoreInfo

export interface StoreInfoWire {
  capacityBytes: number;
  usedBytes: number;
  objectCount: number;
  clientCount: number;
}

/** StoreInfo: empty → u64 capacityBytes, u64 usedBytes, u32 objectCount, u32 clientCount. */
export const StoreInfoCodec = {
  type: MessageType.StoreInfo,
  ...emptyRequest(MessageType.StoreInfo),
  encodeReply(out: ByteWriter, requestId: number, info: StoreInfoWire): void {
    const at = beginFrame(out, MessageType.StoreInfo, FLAG_REPLY, requestId);
    out.u64(info.capacityBytes);
    out.u64(info.usedBytes);
    out.u32(info.objectCount);
    out.u32(info.clientCount);
    endFrame(out, at);
  },
  decodeReply(r: ByteReader): StoreInfoWire {
    const info: StoreInfoWire = {
      capacityBytes: r.u64("capacity"),
      usedBytes: r.u64("used"),
      objectCount: r.u32("objects"),
      clientCount: r.u32("clients"),
    };
    endBody(r, MessageType.StoreInfo);
    return info;
  },
} as const satisfies MessageCodec<void, StoreInfoWire>;

// ---------------------------------------------------------------- DebugString

/** DebugString: empty → string (a human-readable summary of the store, cut at MAX_DEBUG_STRING_BYTES). */
export const DebugStringCodec = {
  type: MessageType.DebugString,
  ...emptyRequest(MessageType.DebugString),
  encodeReply(out: ByteWriter, requestId: number, text: string): void {
    const at = beginFrame(out, MessageType.DebugString, FLAG_REPLY, requestId);
    writeTruncatedString(out, text, MAX_DEBUG_STRING_BYTES);
    endFrame(out, at);
  },
  decodeReply(r: ByteReader): string {
    const text = r.string(MAX_DEBUG_STRING_BYTES, "debug string");
    endBody(r, MessageType.DebugString);
    return text;
  },
} as const satisfies MessageCodec<void, string>;

function stateOfWire(value: number): ObjectState {
  return value === 1 ? "sealed" : value === 2 ? "spilled" : "created";
}
