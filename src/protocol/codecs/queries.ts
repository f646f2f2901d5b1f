import type { ByteReader, ByteWriter } from "../bytes.ts";
import { beginFrame, endFrame, FLAG_REPLY } from "../frame.ts";
import { emptyRequest, type MessageCodec } from "./codec.ts";
import { endBody, readReplyCount } from "./fields.ts";
import { LIST_ENTRY_BYTES, MAX_DEBUG_STRING_BYTES } from "./layout.ts";
import { MessageType } from "./message-type.ts";

// ---------------------------------------------------------------- List

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

/** List: empty → every object (u32 count, then LIST_ENTRY_BYTES per object). */
export const ListCodec = {
  type: MessageType.List,
  ...emptyRequest(MessageType.List),
  encodeReply(out: ByteWriter, requestId: number, objects: readonly ObjectInfoWire[]): void {
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
  },
  /** The objects, with copies of their ids. */
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
        state: r.u8("state") === 1 ? "sealed" : "created",
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

/** DebugString: empty → string (a human-readable summary of the store). */
export const DebugStringCodec = {
  type: MessageType.DebugString,
  ...emptyRequest(MessageType.DebugString),
  encodeReply(out: ByteWriter, requestId: number, text: string): void {
    const at = beginFrame(out, MessageType.DebugString, FLAG_REPLY, requestId);
    out.string(text);
    endFrame(out, at);
  },
  decodeReply(r: ByteReader): string {
    const text = r.string(MAX_DEBUG_STRING_BYTES, "debug string");
    endBody(r, MessageType.DebugString);
    return text;
  },
} as const satisfies MessageCodec<void, string>;
