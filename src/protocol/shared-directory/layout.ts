/**
 * The word-by-word layout of the shared-memory object directory (docs/shared-directory.md). The store
 * writes it; clients map it read-only. Every field is a little-endian u32 word read through a Uint32Array
 * over the region; 64-bit values are two words (low, high).
 */
import { ProtocolError } from "../errors.ts";
import { OBJECT_ID_BYTES } from "../object-id.ts";

/** "PLDR" little-endian: the first word of a directory region. */
export const DIRECTORY_MAGIC = 0x52444c50;
/** Bumped on any incompatible change of this layout. */
export const DIRECTORY_FORMAT = 1;
export const DIRECTORY_HEADER_BYTES = 64;
export const ENTRY_BYTES = 64;
export const ENTRY_WORDS = ENTRY_BYTES / 4;
/** Entries in a directory unless configured: about 1M objects, a 64 MiB (mostly untouched) memfd. */
export const DEFAULT_DIRECTORY_CAPACITY = 1 << 20;
/** At most this fraction of slots may be non-empty (live, being removed, tombstones). */
export const MAX_LOAD_FACTOR = 0.75;

/** Header word indices. */
export const Header = {
  MAGIC: 0,
  FORMAT: 1,
  /** Entries in the table, a power of two. */
  CAPACITY: 2,
  /** The store's generation (changes each store start): a client checks it against its handshake. */
  GENERATION: 3,
  /** The store's use clock: advanced by the store, copied into entries it sees used. */
  USE_CLOCK: 4,
  /** Entries in state SEALED (advisory, for tools). */
  SEALED_COUNT: 5,
} as const;

/** Word offsets inside an entry. */
export const Entry = {
  /** Seqlock: odd while the store rewrites the entry; +2 for every change, never reset. */
  VERSION: 0,
  STATE: 1,
  /** Five words: the 20-byte object id. */
  ID: 2,
  METADATA_SIZE: 7,
  OFFSET_LOW: 8,
  OFFSET_HIGH: 9,
  DATA_SIZE_LOW: 10,
  DATA_SIZE_HIGH: 11,
  /** The store's USE_CLOCK when it last saw the object used (approximate; written outside the seqlock). */
  USE_CLOCK: 12,
} as const;

export const ID_WORDS = OBJECT_ID_BYTES / 4;

/** Entry states. EMPTY ends a probe; TOMBSTONE continues it; only SEALED may be pinned. */
export const EntryState = {
  EMPTY: 0,
  TOMBSTONE: 1,
  SEALED: 2,
  /** Marked for removal: readers must not pin it; the store frees it once no pin names it. */
  REMOVING: 3,
} as const;
export type EntryStateValue = (typeof EntryState)[keyof typeof EntryState];

const TWO_32 = 2 ** 32;

/** The region size for `capacity` entries. */
export function directorySizeBytes(capacity: number): number {
  checkCapacity(capacity);
  return DIRECTORY_HEADER_BYTES + capacity * ENTRY_BYTES;
}

export function checkCapacity(capacity: number): void {
  if (
    !Number.isSafeInteger(capacity) ||
    capacity < 2 ||
    capacity > 2 ** 26 ||
    (capacity & (capacity - 1)) !== 0
  ) {
    throw new RangeError(`directory capacity must be a power of two in [2, 2^26], got ${capacity}`);
  }
}

/** The first word of entry `index` in the region's Uint32Array. */
export function entryBase(index: number): number {
  return DIRECTORY_HEADER_BYTES / 4 + index * ENTRY_WORDS;
}

/** An id's five little-endian words, written into `out`. Throws on a wrong length. */
export function idWords(id: Uint8Array, out: Uint32Array): Uint32Array {
  if (id.length !== OBJECT_ID_BYTES) {
    throw new RangeError(`an object id is ${OBJECT_ID_BYTES} bytes, got ${id.length}`);
  }
  for (let w = 0; w < ID_WORDS; w++) {
    const b = w * 4;
    out[w] =
      ((id[b] as number) |
        ((id[b + 1] as number) << 8) |
        ((id[b + 2] as number) << 16) |
        ((id[b + 3] as number) << 24)) >>>
      0;
  }
  return out;
}

/** The home slot hash of an id (murmur3-style mix of its words): the same in store and client. */
export function hashIdWords(words: Uint32Array): number {
  let h = 0x9747b28c;
  for (let w = 0; w < ID_WORDS; w++) {
    h = Math.imul(h ^ (words[w] as number), 0x5bd1e995);
    h ^= h >>> 15;
  }
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Join two u32 words into a number (exact below 2^53, which every offset and size is). */
export function joinU64(low: number, high: number): number {
  return high * TWO_32 + low;
}

export function lowWord(value: number): number {
  return (value % TWO_32) >>> 0;
}

export function highWord(value: number): number {
  return Math.floor(value / TWO_32) >>> 0;
}

/** Check a mapped region's header (as a client does on attach); returns the capacity. */
export function readDirectoryHeader(words: Uint32Array): number {
  if (words.length < DIRECTORY_HEADER_BYTES / 4)
    throw new ProtocolError("directory region is smaller than its header");
  const magic = words[Header.MAGIC];
  const format = words[Header.FORMAT];
  if (magic !== DIRECTORY_MAGIC)
    throw new ProtocolError(`not a plasma directory (magic 0x${magic?.toString(16)})`);
  if (format !== DIRECTORY_FORMAT)
    throw new ProtocolError(`directory format ${format}, this code reads ${DIRECTORY_FORMAT}`);
  const capacity = words[Header.CAPACITY] as number;
  try {
    checkCapacity(capacity);
  } catch {
    throw new ProtocolError(`directory header names capacity ${capacity}`);
  }
  if (words.byteLength < directorySizeBytes(capacity)) {
    throw new ProtocolError(
      `directory of ${capacity} entries needs ${directorySizeBytes(capacity)} bytes, region has ${words.byteLength}`,
    );
  }
  return capacity;
}
