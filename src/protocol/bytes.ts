import { ProtocolError } from "./errors.ts";
import { MAX_SAFE_U64 } from "./limits.ts";
import { OBJECT_ID_BYTES, objectKeyAt } from "./object-id.ts";

const TWO_32 = 2 ** 32;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: false });

/** Appends little-endian fields to a growable buffer. Reused across frames to avoid allocations. */
export class ByteWriter {
  bytes: Uint8Array;
  view: DataView;
  length = 0;

  constructor(initialBytes = 4096) {
    this.bytes = new Uint8Array(initialBytes);
    this.view = new DataView(this.bytes.buffer);
  }

  ensure(extraBytes: number): void {
    const needed = this.length + extraBytes;
    if (needed <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(value: number): void {
    this.ensure(1);
    this.bytes[this.length++] = value;
  }

  u16(value: number): void {
    this.ensure(2);
    this.view.setUint16(this.length, value, true);
    this.length += 2;
  }

  u32(value: number): void {
    this.ensure(4);
    this.view.setUint32(this.length, value, true);
    this.length += 4;
  }

  i32(value: number): void {
    this.ensure(4);
    this.view.setInt32(this.length, value, true);
    this.length += 4;
  }

  /** A non-negative integer below 2^53 as a u64 (two u32 halves). */
  u64(value: number): void {
    this.ensure(8);
    this.view.setUint32(this.length, value % TWO_32, true);
    this.view.setUint32(this.length + 4, Math.floor(value / TWO_32), true);
    this.length += 8;
  }

  f64(value: number): void {
    this.ensure(8);
    this.view.setFloat64(this.length, value, true);
    this.length += 8;
  }

  raw(data: Uint8Array): void {
    this.ensure(data.length);
    this.bytes.set(data, this.length);
    this.length += data.length;
  }

  /** u32 length then the bytes. */
  blob(data: Uint8Array): void {
    this.u32(data.length);
    this.raw(data);
  }

  string(value: string): void {
    this.blob(textEncoder.encode(value));
  }

  id(idBytes: Uint8Array): void {
    if (idBytes.length !== OBJECT_ID_BYTES) {
      this.raw(idBytes);
      return;
    }
    // 20 bytes: a loop beats TypedArray.set's fixed cost.
    this.ensure(OBJECT_ID_BYTES);
    const bytes = this.bytes;
    const at = this.length;
    for (let i = 0; i < OBJECT_ID_BYTES; i++) bytes[at + i] = idBytes[i] as number;
    this.length = at + OBJECT_ID_BYTES;
  }

  /** Reserves n bytes and returns their start, for fields filled later (frame lengths). */
  skip(n: number): number {
    this.ensure(n);
    const at = this.length;
    this.length += n;
    return at;
  }

  reset(): void {
    this.length = 0;
  }
}

/**
 * Reads little-endian fields from an untrusted body; every read is bounds-checked. `reset` points a
 * reader at the next body: one reader per connection, and one DataView per received chunk, not per frame.
 */
export class ByteReader {
  bytes: Uint8Array;
  view: DataView;
  offset = 0;
  /** Where `bytes` starts in `view`. */
  #base: number;

  /** `view`, if given, is a DataView of the whole of `bytes.buffer` (from FrameReader): none is made then. */
  constructor(bytes: Uint8Array, view?: DataView) {
    this.bytes = bytes;
    if (view !== undefined && view.buffer === bytes.buffer && view.byteOffset === 0) {
      this.view = view;
      this.#base = bytes.byteOffset;
    } else {
      this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.#base = 0;
    }
  }

  /** Reads `bytes` from its start; reuses the DataView while the bodies share one buffer (or takes `view`). */
  reset(bytes: Uint8Array, view?: DataView): this {
    if (bytes.buffer !== this.view.buffer || this.view.byteOffset !== 0) {
      this.view =
        view !== undefined && view.buffer === bytes.buffer && view.byteOffset === 0
          ? view
          : new DataView(bytes.buffer);
    }
    this.#base = bytes.byteOffset;
    this.bytes = bytes;
    this.offset = 0;
    return this;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  need(n: number, what: string): void {
    if (n > this.remaining) {
      throw new ProtocolError(
        `Frame too short: ${what} needs ${n} bytes at offset ${this.offset}, ${this.remaining} left.`,
      );
    }
  }

  u8(what = "u8"): number {
    this.need(1, what);
    return this.bytes[this.offset++] as number;
  }

  u16(what = "u16"): number {
    this.need(2, what);
    const v = this.view.getUint16(this.#base + this.offset, true);
    this.offset += 2;
    return v;
  }

  u32(what = "u32"): number {
    this.need(4, what);
    const v = this.view.getUint32(this.#base + this.offset, true);
    this.offset += 4;
    return v;
  }

  i32(what = "i32"): number {
    this.need(4, what);
    const v = this.view.getInt32(this.#base + this.offset, true);
    this.offset += 4;
    return v;
  }

  u64(what = "u64"): number {
    this.need(8, what);
    const lo = this.view.getUint32(this.#base + this.offset, true);
    const hi = this.view.getUint32(this.#base + this.offset + 4, true);
    this.offset += 8;
    const value = hi * TWO_32 + lo;
    if (value > MAX_SAFE_U64) throw new ProtocolError(`${what} ${value} is beyond 2^53.`);
    return value;
  }

  f64(what = "f64"): number {
    this.need(8, what);
    const v = this.view.getFloat64(this.#base + this.offset, true);
    this.offset += 8;
    return v;
  }

  /** n bytes as a view into the frame (valid only while the frame is). */
  raw(n: number, what = "bytes"): Uint8Array {
    this.need(n, what);
    const v = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  /** u32 length (at most maxBytes) then the bytes, as a view. */
  blob(maxBytes: number, what = "blob"): Uint8Array {
    const n = this.u32(`${what} length`);
    if (n > maxBytes) throw new ProtocolError(`${what} of ${n} bytes is over the limit of ${maxBytes}.`);
    return this.raw(n, what);
  }

  string(maxBytes: number, what = "string"): string {
    return textDecoder.decode(this.blob(maxBytes, what));
  }

  /** A 20-byte id as a view. */
  id(what = "object id"): Uint8Array {
    return this.raw(OBJECT_ID_BYTES, what);
  }

  /** A 20-byte id as its map key (objectKey), without making a view. */
  key(what = "object id"): string {
    this.need(OBJECT_ID_BYTES, what);
    const key = objectKeyAt(this.bytes, this.offset);
    this.offset += OBJECT_ID_BYTES;
    return key;
  }

  /** Throws if bytes are left over: a frame must be exactly its message. */
  end(what: string): void {
    if (this.remaining !== 0)
      throw new ProtocolError(`${what}: ${this.remaining} unexpected trailing bytes.`);
  }
}
