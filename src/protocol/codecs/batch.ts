import type { ByteReader, ByteWriter } from "../bytes.ts";
import { ProtocolError } from "../errors.ts";
import { beginFrame, endFrame, FLAG_ERROR, FLAG_MORE, FLAG_REPLY } from "../frame.ts";
import { FRAME_HEADER_BYTES } from "../limits.ts";
import type { MessageCodec, Specialised } from "./codec.ts";
import { endBody } from "./fields.ts";
import { MessageType, messageName } from "./message-type.ts";

/** Most sub-frames in one Batch frame. */
export const MAX_BATCH_FRAMES = 4096;
/** Largest body of a Batch frame (its u32 count and its sub-frames); more goes out as plain frames. */
export const MAX_BATCH_BODY_BYTES = 1024 * 1024;
/** The Batch frame's own header plus its u32 count: what precedes its first sub-frame. */
export const BATCH_PREFIX_BYTES = FRAME_HEADER_BYTES + 4;
const SUB_FRAME_FLAGS = FLAG_REPLY | FLAG_ERROR | FLAG_MORE;

/** One sub-frame of a Batch: a whole frame, its body a view into the batch's bytes. */
export interface BatchFrame {
  type: number;
  flags: number;
  requestId: number;
  body: Uint8Array;
}

/** Called for each sub-frame; `view` covers the whole of `body.buffer`, as FrameReader's handlers get it. */
export type BatchFrameVisitor = (
  type: number,
  flags: number,
  requestId: number,
  body: Uint8Array,
  view: DataView,
) => void;

/**
 * Checks the sub-frames of a Batch body (after its count), and that nothing follows them. Every
 * sub-frame has a whole header and body inside the batch, only the known flags, and a type that may
 * travel in a batch: never Welcome, Hello (the handshake goes alone) or Batch (no nesting).
 */
function checkFrames(r: ByteReader, count: number): void {
  const start = r.offset;
  for (let i = 0; i < count; i++) {
    r.need(FRAME_HEADER_BYTES, `sub-frame ${i} header`);
    const bodyBytes = r.u32("sub-frame length");
    const type = r.u16("sub-frame type");
    const flags = r.u16("sub-frame flags");
    r.u32("sub-frame request id");
    if (type === MessageType.Batch || type === MessageType.Hello || type === MessageType.Welcome) {
      throw new ProtocolError(`A ${messageName(type)} frame cannot travel inside a Batch.`);
    }
    if ((flags & ~SUB_FRAME_FLAGS) !== 0)
      throw new ProtocolError(`Batch sub-frame has unknown flags 0x${flags.toString(16)}.`);
    r.raw(bodyBytes, `sub-frame ${i} body`);
  }
  endBody(r, MessageType.Batch);
  r.offset = start;
}

function readCount(r: ByteReader): number {
  const count = r.u32("batch count");
  if (count === 0 || count > MAX_BATCH_FRAMES) {
    throw new ProtocolError(`Batch of ${count} frames (1 to ${MAX_BATCH_FRAMES} allowed).`);
  }
  return count;
}

function encode(out: ByteWriter, flags: number, frames: readonly BatchFrame[]): void {
  const at = beginFrame(out, MessageType.Batch, flags, 0);
  out.u32(frames.length);
  for (const frame of frames) {
    const sub = beginFrame(out, frame.type, frame.flags, frame.requestId);
    out.raw(frame.body);
    endFrame(out, sub);
  }
  endFrame(out, at);
}

function decode(r: ByteReader): BatchFrame[] {
  const frames: BatchFrame[] = [];
  forEachFrame(r, (type, flags, requestId, body) => {
    frames.push({ type, flags, requestId, body });
  });
  return frames;
}

/**
 * Checks the whole batch, then hands out its sub-frames in order (none is handed out from a malformed
 * batch). The bodies are views of the batch's bytes, valid as long as they are.
 */
function forEachFrame(r: ByteReader, visit: BatchFrameVisitor): void {
  if (r.bytes.length > MAX_BATCH_BODY_BYTES) {
    throw new ProtocolError(`Batch of ${r.bytes.length} bytes (at most ${MAX_BATCH_BODY_BYTES}).`);
  }
  const count = readCount(r);
  checkFrames(r, count);
  const bytes = r.bytes;
  const view =
    r.view.buffer === bytes.buffer && r.view.byteOffset === 0 ? r.view : new DataView(bytes.buffer);
  let at = bytes.byteOffset + r.offset;
  for (let i = 0; i < count; i++) {
    const bodyBytes = view.getUint32(at, true);
    const type = view.getUint16(at + 4, true);
    const flags = view.getUint16(at + 6, true);
    const requestId = view.getUint32(at + 8, true);
    const bodyStart = at + FRAME_HEADER_BYTES - bytes.byteOffset;
    visit(type, flags, requestId, bytes.subarray(bodyStart, bodyStart + bodyBytes), view);
    at += FRAME_HEADER_BYTES + bodyBytes;
  }
  r.offset = bytes.length;
}

/**
 * The frames in `bytes[from, to)` when they may travel as one Batch: at least 2 and at most
 * MAX_BATCH_FRAMES whole frames, none of a type a batch cannot carry, fitting MAX_BATCH_BODY_BYTES;
 * else 0. For a writer that already holds the frames (the client's output of one tick).
 */
function batchableCount(bytes: Uint8Array, view: DataView, from: number, to: number): number {
  if (to - from + 4 > MAX_BATCH_BODY_BYTES) return 0;
  let count = 0;
  let at = from;
  while (at + FRAME_HEADER_BYTES <= to) {
    const type = view.getUint16(bytes.byteOffset + at + 4, true);
    if (type === MessageType.Batch || type === MessageType.Hello || type === MessageType.Welcome) return 0;
    at += FRAME_HEADER_BYTES + view.getUint32(bytes.byteOffset + at, true);
    if (++count > MAX_BATCH_FRAMES) return 0;
  }
  return at === to && count >= 2 ? count : 0;
}

/**
 * Writes the prefix (Batch header and count) of `count` frames that lie right after it, at
 * `out.bytes[at + BATCH_PREFIX_BYTES, at + BATCH_PREFIX_BYTES + framesBytes)`.
 */
function writePrefix(out: ByteWriter, at: number, flags: number, count: number, framesBytes: number): void {
  const view = out.view;
  view.setUint32(at, framesBytes + 4, true);
  view.setUint16(at + 4, MessageType.Batch, true);
  view.setUint16(at + 6, flags, true);
  view.setUint32(at + 8, 0, true);
  view.setUint32(at + 12, count, true);
}

/**
 * Batch: u32 count, then `count` whole frames (header and body each) → the same, flags REPLY, holding the
 * replies that were ready when the batch was served. Always request id 0: each sub-frame carries its own.
 */
export const BatchCodec = {
  type: MessageType.Batch,
  encodeRequest(out: ByteWriter, _requestId: number, frames: readonly BatchFrame[]): void {
    encode(out, 0, frames);
  },
  decodeRequest: decode,
  encodeReply(out: ByteWriter, _requestId: number, frames: readonly BatchFrame[]): void {
    encode(out, FLAG_REPLY, frames);
  },
  decodeReply: decode,
  forEachFrame,
  batchableCount,
  writePrefix,
} as const satisfies MessageCodec<readonly BatchFrame[], BatchFrame[]> & Specialised;
