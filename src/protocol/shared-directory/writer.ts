/**
 * The store's side of the directory: the single writer. Every word a reader may read while it changes is
 * written with Atomics (sequentially consistent); an entry's fields change only while its VERSION is odd.
 * Slots are never moved: a removed entry becomes a TOMBSTONE (probes continue past it), and a run of
 * tombstones directly before an EMPTY slot is turned back into EMPTY, which no probe chain needs.
 */
import {
  checkCapacity,
  DIRECTORY_FORMAT,
  DIRECTORY_MAGIC,
  directorySizeBytes,
  Entry,
  EntryState,
  entryBase,
  Header,
  hashIdWords,
  highWord,
  ID_WORDS,
  idWords,
  lowWord,
  MAX_LOAD_FACTOR,
} from "./layout.ts";

/** What beginRemove hands back: the entry and the version it had while sealed (what pins name). */
export interface RemovalTicket {
  readonly index: number;
  readonly sealedVersion: number;
}

export class DirectoryWriter {
  readonly capacity: number;
  readonly #words: Uint32Array;
  readonly #mask: number;
  readonly #maxUsed: number;
  readonly #id = new Uint32Array(ID_WORDS);
  /** Non-empty slots (sealed, removing, tombstones). */
  #usedSlots = 0;
  #sealed = 0;

  /** Initialise a zero-filled region (a fresh memfd) for `capacity` entries. */
  static create(region: ArrayBuffer, capacity: number, generation: number): DirectoryWriter {
    checkCapacity(capacity);
    if (region.byteLength < directorySizeBytes(capacity)) {
      throw new RangeError(`a directory of ${capacity} entries needs ${directorySizeBytes(capacity)} bytes`);
    }
    const words = new Uint32Array(region, 0, directorySizeBytes(capacity) / 4);
    Atomics.store(words, Header.CAPACITY, capacity);
    Atomics.store(words, Header.GENERATION, generation >>> 0);
    Atomics.store(words, Header.FORMAT, DIRECTORY_FORMAT);
    Atomics.store(words, Header.MAGIC, DIRECTORY_MAGIC);
    return new DirectoryWriter(words, capacity);
  }

  private constructor(words: Uint32Array, capacity: number) {
    this.#words = words;
    this.capacity = capacity;
    this.#mask = capacity - 1;
    this.#maxUsed = Math.floor(capacity * MAX_LOAD_FACTOR);
  }

  get sealedCount(): number {
    return this.#sealed;
  }

  /** Slots not EMPTY: sealed, being removed, and tombstones that still sit inside a probe chain. */
  get usedSlots(): number {
    return this.#usedSlots;
  }

  /**
   * Publish a sealed object; returns its entry index, or -1 when the table is too full (the object is then
   * served through the socket only). Throws if the id is already published SEALED; an older entry of the
   * same id that is still REMOVING (pinned) may coexist: readers skip REMOVING entries.
   */
  publish(id: Uint8Array, offset: number, dataSize: number, metadataSize: number): number {
    const words = idWords(id, this.#id);
    let reuse = -1;
    for (let probe = 0, slot = hashIdWords(words) & this.#mask; probe < this.capacity; probe++) {
      const state = this.#words[entryBase(slot) + Entry.STATE];
      if (state === EntryState.EMPTY) break;
      if (state === EntryState.TOMBSTONE) {
        if (reuse < 0) reuse = slot;
      } else if (state === EntryState.SEALED && this.#idMatches(slot, words)) {
        throw new RangeError(`object ${Buffer.from(id).toString("hex")} is already in the directory`);
      }
      slot = (slot + 1) & this.#mask;
    }
    if (reuse < 0) {
      if (this.#usedSlots + 1 > this.#maxUsed) return -1;
      reuse = this.#firstEmpty(hashIdWords(words) & this.#mask);
      this.#usedSlots++;
    }
    this.#writeSealed(reuse, words, offset, dataSize, metadataSize);
    this.#sealed++;
    Atomics.store(this.#words, Header.SEALED_COUNT, this.#sealed);
    return reuse;
  }

  /** The entry index of the SEALED entry of `id`, or -1. */
  find(id: Uint8Array): number {
    const words = idWords(id, this.#id);
    for (let probe = 0, slot = hashIdWords(words) & this.#mask; probe < this.capacity; probe++) {
      const state = this.#words[entryBase(slot) + Entry.STATE];
      if (state === EntryState.EMPTY) return -1;
      if (state === EntryState.SEALED && this.#idMatches(slot, words)) return slot;
      slot = (slot + 1) & this.#mask;
    }
    return -1;
  }

  stateOf(index: number): number {
    return this.#words[entryBase(this.#checkIndex(index)) + Entry.STATE] as number;
  }

  versionOf(index: number): number {
    return this.#words[entryBase(this.#checkIndex(index)) + Entry.VERSION] as number;
  }

  /** Mark a sealed entry REMOVING: from now on no reader can newly pin it. Throws if it is not sealed. */
  beginRemove(index: number): RemovalTicket {
    if (this.stateOf(index) !== EntryState.SEALED)
      throw new RangeError(`directory entry ${index} is not sealed`);
    const sealedVersion = this.versionOf(index);
    this.#rewrite(index, () =>
      Atomics.store(this.#words, entryBase(index) + Entry.STATE, EntryState.REMOVING),
    );
    this.#sealed--;
    Atomics.store(this.#words, Header.SEALED_COUNT, this.#sealed);
    return { index, sealedVersion };
  }

  /**
   * Free the slot of an entry marked by beginRemove. The caller has observed no pin naming
   * (ticket.index, ticket.sealedVersion) after the mark (invariant I2); the object's memory may be reused now.
   */
  finishRemove(ticket: RemovalTicket): void {
    const { index } = ticket;
    if (
      this.stateOf(index) !== EntryState.REMOVING ||
      this.versionOf(index) !== (ticket.sealedVersion + 2) >>> 0
    ) {
      throw new RangeError(`directory entry ${index} is not the removal this ticket was issued for`);
    }
    this.#rewrite(index, () => {
      const base = entryBase(index);
      Atomics.store(this.#words, base + Entry.STATE, EntryState.TOMBSTONE);
      for (let w = 0; w < ID_WORDS; w++) Atomics.store(this.#words, base + Entry.ID + w, 0);
    });
    this.#clearTombstonesBefore((index + 1) & this.#mask);
  }

  /** Advance the use clock (the store does it on a timer or per batch); returns the new value. */
  tickUseClock(): number {
    return Atomics.add(this.#words, Header.USE_CLOCK, 1) + 1;
  }

  /** Record that entry `index` was used now (an approximate LRU/LFU hint; not under the seqlock). */
  recordUse(index: number): void {
    const clock = Atomics.load(this.#words, Header.USE_CLOCK);
    Atomics.store(this.#words, entryBase(this.#checkIndex(index)) + Entry.USE_CLOCK, clock);
  }

  useClockOf(index: number): number {
    return this.#words[entryBase(this.#checkIndex(index)) + Entry.USE_CLOCK] as number;
  }

  #checkIndex(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.capacity) {
      throw new RangeError(`directory entry index ${index} is outside [0, ${this.capacity})`);
    }
    return index;
  }

  #idMatches(slot: number, words: Uint32Array): boolean {
    const base = entryBase(slot) + Entry.ID;
    for (let w = 0; w < ID_WORDS; w++) if (this.#words[base + w] !== words[w]) return false;
    return true;
  }

  #firstEmpty(home: number): number {
    let slot = home;
    while (this.#words[entryBase(slot) + Entry.STATE] !== EntryState.EMPTY) slot = (slot + 1) & this.#mask;
    return slot;
  }

  /** The seqlock: VERSION odd while `change` runs, then +2 from where it started. */
  #rewrite(index: number, change: () => void): void {
    const at = entryBase(index) + Entry.VERSION;
    const version = this.#words[at] as number;
    Atomics.store(this.#words, at, (version + 1) >>> 0);
    change();
    Atomics.store(this.#words, at, (version + 2) >>> 0);
  }

  #writeSealed(index: number, id: Uint32Array, offset: number, dataSize: number, metadataSize: number): void {
    this.#rewrite(index, () => {
      const base = entryBase(index);
      const w = this.#words;
      for (let i = 0; i < ID_WORDS; i++) Atomics.store(w, base + Entry.ID + i, id[i] as number);
      Atomics.store(w, base + Entry.OFFSET_LOW, lowWord(offset));
      Atomics.store(w, base + Entry.OFFSET_HIGH, highWord(offset));
      Atomics.store(w, base + Entry.DATA_SIZE_LOW, lowWord(dataSize));
      Atomics.store(w, base + Entry.DATA_SIZE_HIGH, highWord(dataSize));
      Atomics.store(w, base + Entry.METADATA_SIZE, metadataSize >>> 0);
      Atomics.store(w, base + Entry.USE_CLOCK, Atomics.load(w, Header.USE_CLOCK));
      Atomics.store(w, base + Entry.STATE, EntryState.SEALED);
    });
  }

  /** If `next` is EMPTY, turn the run of tombstones just before it into EMPTY slots. */
  #clearTombstonesBefore(next: number): void {
    if (this.#words[entryBase(next) + Entry.STATE] !== EntryState.EMPTY) return;
    let slot = (next - 1) & this.#mask;
    while (this.#usedSlots > 0 && this.#words[entryBase(slot) + Entry.STATE] === EntryState.TOMBSTONE) {
      this.#rewrite(slot, () => Atomics.store(this.#words, entryBase(slot) + Entry.STATE, EntryState.EMPTY));
      this.#usedSlots--;
      slot = (slot - 1) & this.#mask;
    }
  }
}
