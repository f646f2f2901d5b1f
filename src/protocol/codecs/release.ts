import type { ByteReader, ByteWriter } from "../bytes.ts";
import { ProtocolError } from "../errors.ts";
import { beginFrame, endFrame } from "../frame.ts";
import { emptyReply, type MessageCodec, type Specialised } from "./codec.ts";
import { endBody } from "./fields.ts";
import { MessageType } from "./message-type.ts";

export interface ReleaseRequest {
  id: Uint8Array;
  /** Grants given back: at least 1. */
  count: number;
}

function readCount(r: ByteReader): number {
  const count = r.u32("count");
  if (count === 0) throw new ProtocolError("Release of 0 references.");
  return count;
}

/**
 * Release: id, u32 count → empty. Sent with request id 0 (no reply on success; an error comes back with
 * request id 0), as the client does; a request id other than 0 gets the empty reply.
 */
export const ReleaseCodec = {
  type: MessageType.Release,
  encodeRequest(out: ByteWriter, requestId: number, req: ReleaseRequest): void {
    const at = beginFrame(out, MessageType.Release, 0, requestId);
    out.id(req.id);
    out.u32(req.count);
    endFrame(out, at);
  },
  /** The client's form: request id 0 (no reply wanted), no request object. */
  encodeRequestNoReply(out: ByteWriter, id: Uint8Array, count: number): void {
    const at = beginFrame(out, MessageType.Release, 0, 0);
    out.id(id);
    out.u32(count);
    endFrame(out, at);
  },
  decodeRequest(r: ByteReader): ReleaseRequest {
    const id = r.id();
    const count = readCount(r);
    endBody(r, MessageType.Release);
    return { id, count };
  },
  /** decodeRequest for the store: the id as its map key (objectKey). */
  decodeRequestKey(r: ByteReader): { key: string; count: number } {
    const key = r.key();
    const count = readCount(r);
    endBody(r, MessageType.Release);
    return { key, count };
  },
  ...emptyReply(MessageType.Release),
} as const satisfies MessageCodec<ReleaseRequest, void> & Specialised;
