import type { ByteReader, ByteWriter } from "../bytes.ts";
import { ProtocolError } from "../errors.ts";
import { beginFrame, endFrame, FLAG_REPLY } from "../frame.ts";
import { MAX_IDS_PER_REQUEST, MAX_TIMEOUT_MS } from "../limits.ts";
import { OBJECT_ID_BYTES } from "../object-id.ts";
import { messageName } from "./message-type.ts";

/** Fields that several messages share, written and read the same way everywhere. */

export interface ObjectLocation {
  offset: number;
  dataSize: number;
  metadataSize: number;
}

export function writeLocation(out: ByteWriter, loc: ObjectLocation): void {
  out.u64(loc.offset);
  out.u64(loc.dataSize);
  out.u32(loc.metadataSize);
}

export function readLocation(r: ByteReader): ObjectLocation {
  return { offset: r.u64("offset"), dataSize: r.u64("data size"), metadataSize: r.u32("metadata size") };
}

const textEncoder = new TextEncoder();

/**
 * A string cut to at most maxBytes of UTF-8 (the decoder's limit), so that a long text (an error message,
 * the debug string) never makes a frame its reader rejects. A character cut in two decodes as U+FFFD.
 */
export function writeTruncatedString(out: ByteWriter, text: string, maxBytes: number): void {
  const bytes = textEncoder.encode(text);
  out.blob(bytes.length > maxBytes ? bytes.subarray(0, maxBytes) : bytes);
}

/** A frame with an empty body. */
export function writeEmptyFrame(out: ByteWriter, type: number, flags: number, requestId: number): void {
  endFrame(out, beginFrame(out, type, flags, requestId));
}

/** A request frame of one id. */
export function writeIdFrame(out: ByteWriter, type: number, requestId: number, id: Uint8Array): void {
  const at = beginFrame(out, type, 0, requestId);
  out.id(id);
  endFrame(out, at);
}

/** A reply frame of one u64. */
export function writeU64Reply(out: ByteWriter, type: number, requestId: number, value: number): void {
  const at = beginFrame(out, type, FLAG_REPLY, requestId);
  out.u64(value);
  endFrame(out, at);
}

/** Checks that the body was read to its end (all of it, for an empty body). */
export function endBody(r: ByteReader, type: number): void {
  r.end(messageName(type));
}

/** An i32 timeout: -1 (forever) to MAX_TIMEOUT_MS. */
export function readTimeout(r: ByteReader, what: string): number {
  const ms = r.i32(what);
  if (ms < -1 || ms > MAX_TIMEOUT_MS)
    throw new ProtocolError(`${what} of ${ms} ms is out of range (-1 to ${MAX_TIMEOUT_MS}).`);
  return ms;
}

/** u32 count, then the ids. */
export function writeIds(out: ByteWriter, ids: readonly Uint8Array[]): void {
  out.u32(ids.length);
  for (const id of ids) out.id(id);
}

function readIdCount(r: ByteReader, maxIds: number): number {
  const count = r.u32("id count");
  if (count > maxIds) throw new ProtocolError(`${count} ids in one request is over the limit of ${maxIds}.`);
  r.need(count * OBJECT_ID_BYTES, "ids");
  return count;
}

/** writeIds read back, as views of the frame. */
export function readIds(r: ByteReader, maxIds = MAX_IDS_PER_REQUEST): Uint8Array[] {
  const count = readIdCount(r, maxIds);
  const ids: Uint8Array[] = new Array(count);
  for (let i = 0; i < count; i++) ids[i] = r.id();
  return ids;
}

/** writeIds read back as map keys (objectKey), without a view per id. */
export function readIdKeys(r: ByteReader, maxIds = MAX_IDS_PER_REQUEST): string[] {
  const count = readIdCount(r, maxIds);
  const keys: string[] = new Array(count);
  for (let i = 0; i < count; i++) keys[i] = r.key();
  return keys;
}

/** A reply's u32 entry count, checked against the expected one (if given) and the bytes left. */
export function readReplyCount(
  r: ByteReader,
  type: number,
  expected: number | undefined,
  minEntryBytes: number,
): number {
  const count = r.u32("count");
  if (expected !== undefined && count !== expected)
    throw new ProtocolError(`${messageName(type)} reply has ${count} entries, expected ${expected}.`);
  r.need(count * minEntryBytes, `${messageName(type)} entries`);
  return count;
}
