import type { ByteReader, ByteWriter } from "../bytes.ts";
import { ProtocolError } from "../errors.ts";
import { beginFrame, endFrame, FLAG_REPLY } from "../frame.ts";
import { emptyReply, type MessageCodec } from "./codec.ts";
import { endBody, writeIdFrame } from "./fields.ts";
import { HASH_DIGEST_BYTES } from "./layout.ts";
import { MessageType } from "./message-type.ts";

/**
 * The request side of the messages that name one object (Seal, Abort, Contains, Hash): body = the id.
 * `decodeRequestKey` is the store's specialisation: the id as its map key (objectKey), without a view.
 */
function oneIdRequest<T extends MessageType>(type: T) {
  return {
    type,
    encodeRequest(out: ByteWriter, requestId: number, id: Uint8Array): void {
      writeIdFrame(out, type, requestId, id);
    },
    decodeRequest(r: ByteReader): Uint8Array {
      const id = r.id();
      endBody(r, type);
      return id;
    },
    decodeRequestKey(r: ByteReader): string {
      const key = r.key();
      endBody(r, type);
      return key;
    },
  } as const;
}

/** Seal: id → empty. */
export const SealCodec = {
  ...oneIdRequest(MessageType.Seal),
  ...emptyReply(MessageType.Seal),
} as const satisfies MessageCodec<Uint8Array, void>;

/** Abort: id → empty. */
export const AbortCodec = {
  ...oneIdRequest(MessageType.Abort),
  ...emptyReply(MessageType.Abort),
} as const satisfies MessageCodec<Uint8Array, void>;

/** Contains: id → u8 (1: present and sealed). */
export const ContainsCodec = {
  ...oneIdRequest(MessageType.Contains),
  encodeReply(out: ByteWriter, requestId: number, contains: boolean): void {
    const at = beginFrame(out, MessageType.Contains, FLAG_REPLY, requestId);
    out.u8(contains ? 1 : 0);
    endFrame(out, at);
  },
  decodeReply(r: ByteReader): boolean {
    const contains = r.u8("contains") === 1;
    endBody(r, MessageType.Contains);
    return contains;
  },
} as const satisfies MessageCodec<Uint8Array, boolean>;

/** Hash: id → blob of the 8-byte XXH64 of data then metadata (big-endian). */
export const HashCodec = {
  ...oneIdRequest(MessageType.Hash),
  encodeReply(out: ByteWriter, requestId: number, digest: Uint8Array): void {
    const at = beginFrame(out, MessageType.Hash, FLAG_REPLY, requestId);
    out.blob(digest);
    endFrame(out, at);
  },
  /** A copy of the digest. */
  decodeReply(r: ByteReader): Uint8Array {
    const digest = r.blob(HASH_DIGEST_BYTES, "hash");
    if (digest.length !== HASH_DIGEST_BYTES)
      throw new ProtocolError(`Hash reply of ${digest.length} bytes, expected ${HASH_DIGEST_BYTES}.`);
    endBody(r, MessageType.Hash);
    return digest.slice();
  },
} as const satisfies MessageCodec<Uint8Array, Uint8Array>;
