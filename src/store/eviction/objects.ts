/**
 * The owner of the per-object facts an eviction policy orders by: size, seal order and use count. In the
 * store that owner is the object table (the policy then shares its slots and keeps no copy of any of its
 * fields); a policy created without one owns a MapEvictionObjects. The policy itself keeps only its
 * ordering structure (tracking.ts).
 */

import { assert } from "../assert.ts";
import { grown } from "../grow.ts";

/** Facts of an object loaded from a snapshot (createEvictionPolicy, migratePolicy). */
export interface LoadedFacts {
  /** Position in seal order among the loaded objects: 1, 2, 3, ... */
  readonly sealOrder: number;
  /** Uses (accessBegan calls) since seal. */
  readonly useCount: number;
}

export interface EvictionObjects {
  /** Slot of the key (a small non-negative integer, reused), -1 if unknown. */
  slotOf(key: string): number;
  keyAt(slot: number): string;
  /**
   * The policy starts tracking a sealed object of sizeBytes; returns its slot. `loaded` carries the facts
   * of a snapshot being loaded: an owner that already has them checks that they agree.
   */
  track(key: string, sizeBytes: number, loaded?: LoadedFacts): number;
  /** The policy stopped tracking the key held in this slot. */
  untrack(key: string, slot: number): void;
  sizeBytesAt(slot: number): number;
  /** Strictly increasing in seal order; only compared. */
  sealOrderAt(slot: number): number;
  /** Uses (accessBegan calls) since seal. */
  useCountAt(slot: number): number;
  /** One more use; the policy calls it after the object left its index (the count orders LFU). */
  recordUse(slot: number): void;
}

const INITIAL_SLOTS = 64;

/** The facts of a policy that has no object table: a Map from key to slot, fields in typed arrays. */
export class MapEvictionObjects implements EvictionObjects {
  readonly #slots = new Map<string, number>();
  readonly #keys: string[] = [];
  readonly #free: number[] = [];
  #sizeBytes = new Float64Array(INITIAL_SLOTS);
  #sealOrder = new Float64Array(INITIAL_SLOTS);
  #useCount = new Float64Array(INITIAL_SLOTS);
  #nextSealOrder = 1;

  slotOf(key: string): number {
    return this.#slots.get(key) ?? -1;
  }

  keyAt(slot: number): string {
    return this.#keys[slot] ?? "";
  }

  track(key: string, sizeBytes: number, loaded?: LoadedFacts): number {
    assert(!this.#slots.has(key), "a tracked key is tracked once");
    const slot = this.#free.pop() ?? this.#keys.length;
    if (slot >= this.#sizeBytes.length) {
      const capacity = this.#sizeBytes.length * 2;
      this.#sizeBytes = grown(this.#sizeBytes, capacity);
      this.#sealOrder = grown(this.#sealOrder, capacity);
      this.#useCount = grown(this.#useCount, capacity);
    }
    this.#keys[slot] = key;
    this.#slots.set(key, slot);
    const sealOrder = loaded?.sealOrder ?? this.#nextSealOrder;
    assert(sealOrder >= this.#nextSealOrder, "seal orders increase");
    this.#nextSealOrder = sealOrder + 1;
    this.#sizeBytes[slot] = sizeBytes;
    this.#sealOrder[slot] = sealOrder;
    this.#useCount[slot] = loaded?.useCount ?? 0;
    return slot;
  }

  untrack(key: string, slot: number): void {
    assert(this.#slots.get(key) === slot, "an untracked key is in its slot");
    this.#slots.delete(key);
    this.#keys[slot] = "";
    this.#free.push(slot);
  }

  sizeBytesAt(slot: number): number {
    return this.#sizeBytes[slot] as number;
  }

  sealOrderAt(slot: number): number {
    return this.#sealOrder[slot] as number;
  }

  useCountAt(slot: number): number {
    return this.#useCount[slot] as number;
  }

  recordUse(slot: number): void {
    this.#useCount[slot] = (this.#useCount[slot] as number) + 1;
  }
}
