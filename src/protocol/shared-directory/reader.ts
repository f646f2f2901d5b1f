/**
 * The client's side of the directory: a read-only view. The region is mapped PROT_READ, and Bun's JIT
 * compiles `Atomics.load` to a locked read-modify-write (seen here: it faults on a read-only page), so the
 * reader uses plain loads of aligned u32 words (never torn on x86-64, which src/ffi requires) ordered by
 * `fence()`: an atomic RMW on a private word, a full barrier for the CPU and a write to typed-array memory
 * for the compiler, so no load is merged or moved across it.
 */
import {
  Entry,
  EntryState,
  entryBase,
  Header,
  hashIdWords,
  ID_WORDS,
  idWords,
  joinU64,
  readDirectoryHeader,
} from "./layout.ts";

/** Seqlock retries (odd or changed versions met) per lookup before giving up: then use the socket. */
export const MAX_SEQLOCK_RETRIES = 64;

export const LookupStatus = {
  FOUND: 0,
  /** Not sealed in the directory (absent, not sealed yet, being removed, or not published). */
  ABSENT: 1,
  /** The entry kept changing under the reader: ask the store. */
  BUSY: 2,
} as const;
export type LookupStatusValue = (typeof LookupStatus)[keyof typeof LookupStatus];

/** A consistent snapshot of one sealed entry. Reused as an out-parameter on the hot path. */
export class DirectoryHit {
  index = -1;
  /** The entry's (even) version while sealed: what a pin names. */
  version = 0;
  offset = 0;
  dataSize = 0;
  metadataSize = 0;
}

const fenceWord = new Int32Array(1);

/** A full memory barrier that the JIT cannot move plain typed-array loads across. */
export function fence(): void {
  Atomics.add(fenceWord, 0, 0);
}

export class DirectoryReader {
  readonly capacity: number;
  readonly #words: Uint32Array;
  readonly #mask: number;
  readonly #id = new Uint32Array(ID_WORDS);

  /** Attach to a mapped directory region; throws ProtocolError if it is not one. */
  static attach(region: ArrayBuffer): DirectoryReader {
    return new DirectoryReader(new Uint32Array(region));
  }

  private constructor(words: Uint32Array) {
    this.capacity = readDirectoryHeader(words);
    this.#words = words;
    this.#mask = this.capacity - 1;
  }

  get generation(): number {
    return this.#words[Header.GENERATION] as number;
  }

  /** Objects sealed in the directory now (advisory). */
  get sealedCount(): number {
    return this.#words[Header.SEALED_COUNT] as number;
  }

  /** The entry's version now: after publishing a pin, equal to the hit's version means still sealed. */
  versionAt(index: number): number {
    return this.#words[entryBase(index) + Entry.VERSION] as number;
  }

  /** The sealed entry of `id` or null (absent, being removed, or busy: each means "ask the store"). */
  lookup(id: Uint8Array): DirectoryHit | null {
    const hit = new DirectoryHit();
    return this.find(id, hit) === LookupStatus.FOUND ? hit : null;
  }

  /** Find the sealed entry of `id` and copy it into `out`, never acting on a half-written entry. */
  find(id: Uint8Array, out: DirectoryHit): LookupStatusValue {
    const key = idWords(id, this.#id);
    const w = this.#words;
    let retries = 0;
    let slot = hashIdWords(key) & this.#mask;
    for (let probe = 0; probe < this.capacity; ) {
      const base = entryBase(slot);
      const version = w[base + Entry.VERSION] as number;
      fence();
      if ((version & 1) === 0) {
        const state = w[base + Entry.STATE];
        if (state === EntryState.EMPTY) return LookupStatus.ABSENT;
        if (state !== EntryState.SEALED || !this.#idMatches(base, key)) {
          slot = (slot + 1) & this.#mask;
          probe++;
          continue;
        }
        this.#copyFields(base, out);
        fence();
        if (w[base + Entry.VERSION] === version) {
          out.index = slot;
          out.version = version;
          return LookupStatus.FOUND;
        }
      }
      if (++retries > MAX_SEQLOCK_RETRIES) return LookupStatus.BUSY;
    }
    return LookupStatus.ABSENT;
  }

  #idMatches(base: number, key: Uint32Array): boolean {
    const w = this.#words;
    const at = base + Entry.ID;
    return (
      w[at] === key[0] &&
      w[at + 1] === key[1] &&
      w[at + 2] === key[2] &&
      w[at + 3] === key[3] &&
      w[at + 4] === key[4]
    );
  }

  #copyFields(base: number, out: DirectoryHit): void {
    const w = this.#words;
    out.offset = joinU64(w[base + Entry.OFFSET_LOW] as number, w[base + Entry.OFFSET_HIGH] as number);
    out.dataSize = joinU64(w[base + Entry.DATA_SIZE_LOW] as number, w[base + Entry.DATA_SIZE_HIGH] as number);
    out.metadataSize = w[base + Entry.METADATA_SIZE] as number;
  }
}
