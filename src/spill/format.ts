/**
 * The spill file format (pure codec, no I/O). A file is a 64-byte header, then the object's data, then
 * its metadata. All integers little-endian:
 *
 *   offset  size  field
 *        0     8  magic "PLSPILL1"
 *        8     2  u16 format version (SPILL_FORMAT_VERSION)
 *       10     2  u16 reserved, 0
 *       12    20  object id
 *       32     8  u64 dataSize (bytes)
 *       40     4  u32 metadataSize (bytes)
 *       44     4  u32 reserved, 0
 *       48     8  u64 XXH64 (seed 0) of data ‖ metadata
 *       56     8  u64 XXH64 (seed 0) of header bytes 0..55
 *
 * The header checksum is checked before any size is trusted. docs/spilling.md describes the same.
 */
import { DEFAULT_MAX_METADATA_BYTES, MAX_SAFE_U64 } from "../protocol/limits.ts";
import { OBJECT_ID_BYTES } from "../protocol/object-id.ts";
import { SpillFormatError } from "./errors.ts";

export const SPILL_MAGIC = "PLSPILL1";
export const SPILL_FORMAT_VERSION = 1;
export const SPILL_HEADER_BYTES = 64;
export const SPILL_FILE_SUFFIX = ".spill";
export const SPILL_TMP_SUFFIX = ".tmp";

const MAGIC_BYTES = new TextEncoder().encode(SPILL_MAGIC);
const AT_VERSION = 8;
const AT_RESERVED_16 = 10;
const AT_ID = 12;
const AT_DATA_SIZE = 32;
const AT_METADATA_SIZE = 40;
const AT_RESERVED_32 = 44;
const AT_CONTENT_HASH = 48;
const AT_HEADER_HASH = 56;

export interface SpillHeader {
  /** The 20 id bytes. */
  id: Uint8Array;
  dataSizeBytes: number;
  metadataSizeBytes: number;
  /** XXH64 (seed 0) of data ‖ metadata, as Bun.hash.xxHash64 returns it. */
  contentHash: bigint;
}

/** The largest sizes a header may declare; a header past them is refused before anything is read. */
export interface SpillSizeLimits {
  maxDataSizeBytes: number;
  maxMetadataSizeBytes: number;
}

export const DEFAULT_SPILL_SIZE_LIMITS: SpillSizeLimits = {
  maxDataSizeBytes: MAX_SAFE_U64,
  maxMetadataSizeBytes: DEFAULT_MAX_METADATA_BYTES,
};

/** XXH64 (seed 0) of bytes, unsigned. */
export function xxh64(bytes: Uint8Array): bigint {
  return BigInt.asUintN(64, BigInt(Bun.hash.xxHash64(bytes)));
}

/** Bytes of the whole file a header describes. */
export function spillFileBytes(header: Pick<SpillHeader, "dataSizeBytes" | "metadataSizeBytes">): number {
  return SPILL_HEADER_BYTES + header.dataSizeBytes + header.metadataSizeBytes;
}

/** The 64 header bytes for `header`. Throws RangeError/TypeError on misuse (bad id length, sizes). */
export function encodeHeader(header: SpillHeader): Uint8Array {
  if (header.id.length !== OBJECT_ID_BYTES) {
    throw new TypeError(`A spill header's id is ${OBJECT_ID_BYTES} bytes, got ${header.id.length}.`);
  }
  checkSize("dataSizeBytes", header.dataSizeBytes, MAX_SAFE_U64);
  checkSize("metadataSizeBytes", header.metadataSizeBytes, 0xffffffff);
  const bytes = new Uint8Array(SPILL_HEADER_BYTES);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC_BYTES, 0);
  view.setUint16(AT_VERSION, SPILL_FORMAT_VERSION, true);
  bytes.set(header.id, AT_ID);
  view.setBigUint64(AT_DATA_SIZE, BigInt(header.dataSizeBytes), true);
  view.setUint32(AT_METADATA_SIZE, header.metadataSizeBytes, true);
  view.setBigUint64(AT_CONTENT_HASH, BigInt.asUintN(64, header.contentHash), true);
  view.setBigUint64(AT_HEADER_HASH, xxh64(bytes.subarray(0, AT_HEADER_HASH)), true);
  return bytes;
}

/**
 * Decodes and checks a header: magic, version, header checksum, reserved fields, then sizes against
 * `limits`. Throws SpillFormatError naming the first problem found.
 */
export function decodeHeader(
  bytes: Uint8Array,
  limits: SpillSizeLimits = DEFAULT_SPILL_SIZE_LIMITS,
): SpillHeader {
  if (bytes.length < SPILL_HEADER_BYTES) {
    throw new SpillFormatError(
      "truncated",
      `The spill header is ${bytes.length} bytes, expected ${SPILL_HEADER_BYTES}.`,
    );
  }
  for (let i = 0; i < MAGIC_BYTES.length; i++) {
    if (bytes[i] !== MAGIC_BYTES[i])
      throw new SpillFormatError("magic", `Not a spill file (no "${SPILL_MAGIC}" magic).`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, SPILL_HEADER_BYTES);
  const version = view.getUint16(AT_VERSION, true);
  if (version !== SPILL_FORMAT_VERSION) {
    throw new SpillFormatError(
      "version",
      `Spill file version ${version}; this store reads version ${SPILL_FORMAT_VERSION}.`,
    );
  }
  if (view.getBigUint64(AT_HEADER_HASH, true) !== xxh64(bytes.subarray(0, AT_HEADER_HASH))) {
    throw new SpillFormatError(
      "header-checksum",
      "The spill header's checksum does not match: the header is corrupt.",
    );
  }
  if (view.getUint16(AT_RESERVED_16, true) !== 0 || view.getUint32(AT_RESERVED_32, true) !== 0) {
    throw new SpillFormatError("reserved", "The spill header's reserved fields are not zero.");
  }
  const dataSize = view.getBigUint64(AT_DATA_SIZE, true);
  const metadataSizeBytes = view.getUint32(AT_METADATA_SIZE, true);
  if (dataSize > BigInt(limits.maxDataSizeBytes) || metadataSizeBytes > limits.maxMetadataSizeBytes) {
    throw new SpillFormatError(
      "size-limit",
      `The spill header declares ${dataSize} data and ${metadataSizeBytes} metadata bytes, past the limits (${limits.maxDataSizeBytes} and ${limits.maxMetadataSizeBytes}).`,
    );
  }
  return {
    id: bytes.slice(AT_ID, AT_ID + OBJECT_ID_BYTES),
    dataSizeBytes: Number(dataSize),
    metadataSizeBytes,
    contentHash: view.getBigUint64(AT_CONTENT_HASH, true),
  };
}

const SPILL_NAME = /^([0-9a-f]{40})\.spill$/;

/** `<40 lowercase hex digits>.spill` for an id. */
export function spillFileName(id: Uint8Array): string {
  return `${Buffer.from(id.buffer, id.byteOffset, id.length).toString("hex")}${SPILL_FILE_SUFFIX}`;
}

/** The temporary name a spill is written under before its rename. */
export function spillTmpName(id: Uint8Array): string {
  return `${Buffer.from(id.buffer, id.byteOffset, id.length).toString("hex")}${SPILL_TMP_SUFFIX}`;
}

/** The id hex of a well-formed spill file name, or null for any other name. */
export function parseSpillFileName(name: string): string | null {
  return SPILL_NAME.exec(name)?.[1] ?? null;
}

function checkSize(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`A spill header's ${name} must be an integer from 0 to ${max}, got ${value}.`);
  }
}
