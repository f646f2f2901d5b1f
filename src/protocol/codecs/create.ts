import type { ByteReader, ByteWriter } from "../bytes.ts";
import { beginFrame, endFrame, FLAG_REPLY } from "../frame.ts";
import { MAX_INLINE_DATA_BYTES, MAX_METADATA_BYTES } from "../limits.ts";
import { emptyReply, type MessageCodec } from "./codec.ts";
import { endBody, type ObjectLocation, readLocation, readTimeout, writeLocation } from "./fields.ts";
import { MessageType } from "./message-type.ts";

// ---------------------------------------------------------------- Create

export interface CreateRequest {
  id: Uint8Array;
  dataSize: number;
  metadata: Uint8Array;
  /** How long to wait for memory held by others to be released: 0 fails at once, -1 waits forever. */
  waitMs: number;
}

/** Create: id, u64 dataSize, blob metadata, i32 waitMs → where the object's data is in the arena. */
export const CreateCodec = {
  type: MessageType.Create,
  encodeRequest(out: ByteWriter, requestId: number, req: CreateRequest): void {
    const at = beginFrame(out, MessageType.Create, 0, requestId);
    out.id(req.id);
    out.u64(req.dataSize);
    out.blob(req.metadata);
    out.i32(req.waitMs);
    endFrame(out, at);
  },
  /** `maxMetadataBytes` defaults to the protocol's limit (the store's own, lower one is the core's to check). */
  decodeRequest(r: ByteReader, maxMetadataBytes = MAX_METADATA_BYTES): CreateRequest {
    const req: CreateRequest = {
      id: r.id(),
      dataSize: r.u64("data size"),
      metadata: r.blob(maxMetadataBytes, "metadata"),
      waitMs: readTimeout(r, "wait"),
    };
    endBody(r, MessageType.Create);
    return req;
  },
  encodeReply(out: ByteWriter, requestId: number, loc: ObjectLocation): void {
    const at = beginFrame(out, MessageType.Create, FLAG_REPLY, requestId);
    writeLocation(out, loc);
    endFrame(out, at);
  },
  decodeReply(r: ByteReader): ObjectLocation {
    const loc = readLocation(r);
    endBody(r, MessageType.Create);
    return loc;
  },
} as const satisfies MessageCodec<CreateRequest, ObjectLocation>;

// ---------------------------------------------------------------- CreateAndSeal

export interface CreateAndSealRequest {
  id: Uint8Array;
  metadata: Uint8Array;
  data: Uint8Array;
}

/** CreateAndSeal: id, blob metadata, blob data (inline) → empty. */
export const CreateAndSealCodec = {
  type: MessageType.CreateAndSeal,
  encodeRequest(out: ByteWriter, requestId: number, req: CreateAndSealRequest): void {
    const at = beginFrame(out, MessageType.CreateAndSeal, 0, requestId);
    out.id(req.id);
    out.blob(req.metadata);
    out.blob(req.data);
    endFrame(out, at);
  },
  decodeRequest(
    r: ByteReader,
    maxMetadataBytes = MAX_METADATA_BYTES,
    maxDataBytes = MAX_INLINE_DATA_BYTES,
  ): CreateAndSealRequest {
    const req: CreateAndSealRequest = {
      id: r.id(),
      metadata: r.blob(maxMetadataBytes, "metadata"),
      data: r.blob(maxDataBytes, "data"),
    };
    endBody(r, MessageType.CreateAndSeal);
    return req;
  },
  ...emptyReply(MessageType.CreateAndSeal),
} as const satisfies MessageCodec<CreateAndSealRequest, void>;
