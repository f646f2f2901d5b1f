/** Helpers to build C values in JS memory: NUL-terminated strings and stable scratch blocks. */
import { type Pointer, ptr } from "bun:ffi";

const encoder = new TextEncoder();

/** UTF-8 bytes of `text` followed by a NUL, for `const char *` arguments. */
export function cString(text: string, what = "string"): Uint8Array {
  if (text.includes("\0")) throw new RangeError(`${what} must not contain a NUL character`);
  const bytes = new Uint8Array(Buffer.byteLength(text, "utf8") + 1);
  encoder.encodeInto(text, bytes);
  return bytes;
}

/** A block of native memory with a fixed address, reused across calls (not thread-shared). */
export interface Scratch {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly address: number;
}

/** Allocate a zeroed scratch block; its ArrayBuffer-backed storage never moves, so `address` stays valid. */
export function scratch(sizeBytes: number): Scratch {
  const buffer = new ArrayBuffer(Math.max(8, Math.ceil(sizeBytes / 8) * 8));
  const bytes = new Uint8Array(buffer);
  return { bytes, view: new DataView(buffer), address: ptr(bytes) as number };
}

const TWO_32 = 2 ** 32;

/** Store a 64-bit address (or size) held in a JS number (< 2^53) at `offset`, little-endian. */
export function setU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value >>> 0, true);
  view.setUint32(offset + 4, Math.floor(value / TWO_32), true);
}

/** Read a little-endian u64 at `offset` as a JS number (exact below 2^53). */
export function getU64(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * TWO_32;
}

/** A pointer argument from a JS number address. */
export function asPointer(address: number): Pointer {
  return address as Pointer;
}
