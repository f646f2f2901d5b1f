import type { ByteReader, ByteWriter } from "../bytes.ts";
import { FLAG_REPLY } from "../frame.ts";
import { endBody, writeEmptyFrame } from "./fields.ts";
import type { MessageType } from "./message-type.ts";

/**
 * The codec of one request/reply message: the client encodes the request and decodes the reply, the store
 * decodes the request and encodes the reply. Every decoder takes untrusted bytes, checks every length,
 * and checks that the body is fully consumed, throwing ProtocolError otherwise (never another error).
 * Decoders return views into the frame for ids and blobs unless they say otherwise: copy what you keep.
 *
 * A codec may add named specialisations for hot paths (a get of one id, ids decoded as map keys); they
 * write and read the same bytes as the general functions.
 */
export interface MessageCodec<Request, Reply> {
  readonly type: MessageType;
  encodeRequest(out: ByteWriter, requestId: number, request: Request): void;
  decodeRequest(r: ByteReader): Request;
  encodeReply(out: ByteWriter, requestId: number, reply: Reply): void;
  decodeReply(r: ByteReader): Reply;
}

/** The request half of a codec whose request body is empty (List, StoreInfo, DebugString, Subscribe). */
export function emptyRequest(type: MessageType) {
  return {
    encodeRequest(out: ByteWriter, requestId: number): void {
      writeEmptyFrame(out, type, 0, requestId);
    },
    decodeRequest(r: ByteReader): void {
      endBody(r, type);
    },
  } as const;
}

/** The reply half of a codec whose reply body is empty. */
export function emptyReply(type: MessageType) {
  return {
    encodeReply(out: ByteWriter, requestId: number): void {
      writeEmptyFrame(out, type, FLAG_REPLY, requestId);
    },
    decodeReply(r: ByteReader): void {
      endBody(r, type);
    },
  } as const;
}

/**
 * What a codec with named specialisations satisfies (`satisfies MessageCodec<Q, R> & Specialised`): the
 * general functions, checked, plus any others.
 */
export type Specialised = Readonly<Record<string, unknown>>;
