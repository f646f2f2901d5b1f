/**
 * The transfer wire: length-prefixed frames over one TCP (or TLS) connection per pull. Little-endian.
 *
 *   frame   = u32 payloadBytes | u8 type | payload
 *   HELLO   c→s  u32 magic "PLTR" | u16 version | u16 tokenBytes | token (UTF-8)
 *   PULL    c→s  id (20 bytes) | u32 chunkBytes | u32 windowChunks
 *   ACK     c→s  u32 chunks (credit: the client consumed that many more chunks)
 *   HEADER  s→c  u64 dataSize | u64 metadataSize | u32 chunkBytes | u8 checksumKind
 *   CHUNK   s→c  u64 offset | u32 crc32 of the bytes | bytes
 *   ERROR   both u16 code | message (UTF-8)
 *
 * Offsets count over data then metadata, as one range of dataSize + metadataSize bytes. Chunks come in
 * order, each chunkBytes long except the last. See docs/cluster.md, "Transfer protocol".
 */
import { OBJECT_ID_BYTES } from "../../protocol/object-id.ts";

export const PROTOCOL_MAGIC = 0x52544c50; // "PLTR" read as a little-endian u32
export const PROTOCOL_VERSION = 1;
export const FRAME_HEADER_BYTES = 5;
export const CHUNK_HEADER_BYTES = 12;

export const FrameType = { HELLO: 1, PULL: 2, ACK: 3, HEADER: 4, CHUNK: 5, ERROR: 6 } as const;

/** Error frame codes. */
export const WireError = {
  AUTH: 1,
  NOT_FOUND: 2,
  BAD_REQUEST: 3,
  VERSION: 4,
  SOURCE_FAILED: 5,
  SHUTTING_DOWN: 6,
} as const;

/** The only checksum kind of version 1: CRC-32 (zlib's polynomial) of each chunk's bytes. */
export const CHECKSUM_CRC32_PER_CHUNK = 1;

export const MAX_TOKEN_BYTES = 1024;
export const MAX_ERROR_MESSAGE_BYTES = 2048;
/** No control frame (anything but CHUNK) may be longer than this; longer is a protocol error. */
export const MAX_CONTROL_PAYLOAD_BYTES = 8 + MAX_TOKEN_BYTES + MAX_ERROR_MESSAGE_BYTES;
export const MIN_CHUNK_BYTES = 1024;
export const MAX_CHUNK_BYTES = 64 * 1024 * 1024;
export const MAX_WINDOW_CHUNKS = 1024;

export const HELLO_FIXED_BYTES = 8;
export const PULL_PAYLOAD_BYTES = OBJECT_ID_BYTES + 8;
export const ACK_PAYLOAD_BYTES = 4;
export const HEADER_PAYLOAD_BYTES = 21;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false });

function frame(type: number, payloadBytes: number): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(FRAME_HEADER_BYTES + payloadBytes);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, payloadBytes, true);
  view.setUint8(4, type);
  return { bytes, view };
}

export function encodeHello(token: string): Uint8Array {
  const tokenBytes = encoder.encode(token);
  if (tokenBytes.length > MAX_TOKEN_BYTES) {
    throw new RangeError(`A cluster token is at most ${MAX_TOKEN_BYTES} bytes, got ${tokenBytes.length}.`);
  }
  const { bytes, view } = frame(FrameType.HELLO, HELLO_FIXED_BYTES + tokenBytes.length);
  view.setUint32(5, PROTOCOL_MAGIC, true);
  view.setUint16(9, PROTOCOL_VERSION, true);
  view.setUint16(11, tokenBytes.length, true);
  bytes.set(tokenBytes, FRAME_HEADER_BYTES + HELLO_FIXED_BYTES);
  return bytes;
}

export function encodePull(id: Uint8Array, chunkBytes: number, windowChunks: number): Uint8Array {
  const { bytes, view } = frame(FrameType.PULL, PULL_PAYLOAD_BYTES);
  bytes.set(id, FRAME_HEADER_BYTES);
  view.setUint32(FRAME_HEADER_BYTES + OBJECT_ID_BYTES, chunkBytes, true);
  view.setUint32(FRAME_HEADER_BYTES + OBJECT_ID_BYTES + 4, windowChunks, true);
  return bytes;
}

export function encodeAck(chunks: number): Uint8Array {
  const { bytes, view } = frame(FrameType.ACK, ACK_PAYLOAD_BYTES);
  view.setUint32(FRAME_HEADER_BYTES, chunks, true);
  return bytes;
}

export interface ObjectHeader {
  dataSize: number;
  metadataSize: number;
  chunkBytes: number;
  checksumKind: number;
}

export function encodeHeader(header: ObjectHeader): Uint8Array {
  const { bytes, view } = frame(FrameType.HEADER, HEADER_PAYLOAD_BYTES);
  view.setBigUint64(5, BigInt(header.dataSize), true);
  view.setBigUint64(13, BigInt(header.metadataSize), true);
  view.setUint32(21, header.chunkBytes, true);
  view.setUint8(25, header.checksumKind);
  return bytes;
}

/** Reads a HEADER payload; sizes past Number.MAX_SAFE_INTEGER come back as NaN (the caller refuses them). */
export function decodeHeader(view: DataView, at: number): ObjectHeader {
  const safe = (value: bigint) => (value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : Number.NaN);
  return {
    dataSize: safe(view.getBigUint64(at, true)),
    metadataSize: safe(view.getBigUint64(at + 8, true)),
    chunkBytes: view.getUint32(at + 16, true),
    checksumKind: view.getUint8(at + 20),
  };
}

/** Writes a CHUNK frame header (frame header + offset + checksum) into the first 17 bytes of `out`. */
export function writeChunkHeader(out: DataView, offset: number, length: number, crc32: number): void {
  out.setUint32(0, CHUNK_HEADER_BYTES + length, true);
  out.setUint8(4, FrameType.CHUNK);
  out.setBigUint64(5, BigInt(offset), true);
  out.setUint32(13, crc32, true);
}

export function encodeError(code: number, message: string): Uint8Array {
  const text = encoder.encode(message).subarray(0, MAX_ERROR_MESSAGE_BYTES);
  const { bytes, view } = frame(FrameType.ERROR, 2 + text.length);
  view.setUint16(5, code, true);
  bytes.set(text, FRAME_HEADER_BYTES + 2);
  return bytes;
}

export function decodeError(payload: Uint8Array): { code: number; message: string } {
  if (payload.length < 2) return { code: 0, message: "(empty error frame)" };
  const code = new DataView(payload.buffer, payload.byteOffset, 2).getUint16(0, true);
  return { code, message: decoder.decode(payload.subarray(2, 2 + MAX_ERROR_MESSAGE_BYTES)) };
}

export function decodeText(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}
