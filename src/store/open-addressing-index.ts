import { assert } from "./assert.ts";

/**
 * A hash index from keys to small non-negative integers ("values": a record number, a table slot), by
 * linear probing over one Int32Array. The index stores only values; the key of a value lives with its
 * owner, which the index asks through IndexedValues. Deletion shifts later entries of the probe chain
 * back into the hole (no tombstones), so chains stay as short as if the removed key had never been
 * inserted. The bucket count is a power of two and the index is at most half full: it doubles on insert.
 * Pure: no I/O, no JS object per entry.
 */

/** What the index needs from the owner of the values' keys. */
export interface IndexedValues<K> {
  /** 32-bit hash of the key of a stored value (the same as the caller passes to find for that key). */
  hashOfValue(value: number): number;
  /** Whether the stored value's key is `key`. */
  hasKey(value: number, key: K): boolean;
}

/** find's answer when no value has the key. */
export const NOT_FOUND = -1;
const MIN_BUCKETS = 16;
/** Largest value: stored as value + 1 in an Int32Array (0 marks an empty bucket). */
export const INDEX_VALUE_MAX = 0x7ffffffe;

export class OpenAddressingIndex<K> {
  readonly #values: IndexedValues<K>;
  /** value + 1 per bucket, 0 when empty. */
  #buckets: Int32Array;
  #size = 0;

  constructor(values: IndexedValues<K>, bucketCount = MIN_BUCKETS) {
    assert(Number.isInteger(Math.log2(bucketCount)) && bucketCount >= 2, "bucket count is a power of two");
    this.#values = values;
    this.#buckets = new Int32Array(bucketCount);
  }

  get size(): number {
    return this.#size;
  }

  get bucketCount(): number {
    return this.#buckets.length;
  }

  /** The value whose key is `key` (whose hash is `hash`), NOT_FOUND if none. */
  find(key: K, hash: number): number {
    const buckets = this.#buckets;
    const mask = buckets.length - 1;
    for (let b = hash & mask; ; b = (b + 1) & mask) {
      const stored = buckets[b] as number;
      if (stored === 0) return NOT_FOUND;
      if (this.#values.hasKey(stored - 1, key)) return stored - 1;
    }
  }

  /** Adds a value whose key is not in the index yet (the caller checks with find). */
  insert(value: number): void {
    assert(Number.isInteger(value) && value >= 0 && value <= INDEX_VALUE_MAX, "index value in range");
    if ((this.#size + 1) * 2 > this.#buckets.length) this.#rehash(this.#buckets.length * 2);
    this.#place(value);
    this.#size += 1;
  }

  /** Removes a value that is in the index; later entries of its probe chain shift back. */
  remove(value: number): void {
    const buckets = this.#buckets;
    const mask = buckets.length - 1;
    let hole = this.#homeOf(value);
    while (buckets[hole] !== value + 1) {
      assert(buckets[hole] !== 0, "a removed value is in the index");
      hole = (hole + 1) & mask;
    }
    buckets[hole] = 0;
    for (let b = (hole + 1) & mask; buckets[b] !== 0; b = (b + 1) & mask) {
      const moved = (buckets[b] as number) - 1;
      const home = this.#homeOf(moved);
      // It stays when its home lies cyclically in (hole, b]: find reaches it without crossing the hole.
      const homeInRange = hole <= b ? home > hole && home <= b : home > hole || home <= b;
      if (homeInRange) continue;
      buckets[hole] = moved + 1;
      buckets[b] = 0;
      hole = b;
    }
    this.#size -= 1;
  }

  /** The stored values, in bucket order. O(buckets). */
  values(): number[] {
    const values: number[] = [];
    for (const stored of this.#buckets) if (stored !== 0) values.push(stored - 1);
    return values;
  }

  /**
   * Throws unless the size is exact, the index is at most half full, and every value is reachable from
   * its home bucket without crossing an empty one (what find relies on). O(buckets).
   */
  checkInvariants(): void {
    const buckets = this.#buckets;
    const mask = buckets.length - 1;
    let stored = 0;
    for (let b = 0; b < buckets.length; b++) {
      if (buckets[b] === 0) continue;
      stored += 1;
      for (let probe = this.#homeOf((buckets[b] as number) - 1); probe !== b; probe = (probe + 1) & mask) {
        assert(buckets[probe] !== 0, `bucket ${b} is reachable from its home`);
      }
    }
    assert(stored === this.#size, `index size ${this.#size} matches ${stored} stored values`);
    assert(this.#size * 2 <= buckets.length, "index at most half full");
  }

  #homeOf(value: number): number {
    return this.#values.hashOfValue(value) & (this.#buckets.length - 1);
  }

  #place(value: number): void {
    const buckets = this.#buckets;
    const mask = buckets.length - 1;
    let b = this.#homeOf(value);
    while (buckets[b] !== 0) b = (b + 1) & mask;
    buckets[b] = value + 1;
  }

  #rehash(bucketCount: number): void {
    const old = this.#buckets;
    this.#buckets = new Int32Array(bucketCount);
    for (const stored of old) if (stored !== 0) this.#place(stored - 1);
  }
}
