/**
 * Bookkeeping shared by every eviction policy. The per-object facts a policy orders by (size, seal order,
 * use count) belong to an EvictionObjects owner, the object table in the store (objects.ts); a policy
 * keeps only its ordering structure: which objects it tracks, which of them are in its index (the
 * evictable ones), and its recency clock, the order of each object's last use. A concrete policy supplies
 * the index that orders evictable objects for chooseVictims.
 *
 * The recency clock is the policy's own: the table's lastAccessTime is a wall-clock time for people
 * (creates and partial releases set it too, and many objects share a millisecond), while LRU and LFU
 * need a strict order of uses.
 *
 * Memory layout: struct of arrays indexed by the owner's slot numbers (the concrete index keeps its links
 * in typed arrays too), so tracking a million objects allocates no per-object JS objects.
 */

import { assert } from "../assert.ts";
import { grown } from "../grow.ts";
import { type EvictionObjects, type LoadedFacts, MapEvictionObjects } from "./objects.ts";
import type { EvictionObjectState, EvictionPolicy, EvictionPolicyName } from "./policy.ts";

const NOT_TRACKED = 0;
const TRACKED = 1;
const INITIAL_SLOTS = 64;

export abstract class TrackingEvictionPolicy implements EvictionPolicy {
  abstract readonly name: EvictionPolicyName;
  /** The owner given by the caller (shared on migration), undefined when the policy owns its own. */
  readonly objects: EvictionObjects | undefined;
  readonly #objects: EvictionObjects;

  #capacity = 0;
  #tracked = new Uint8Array(0);
  #evictable = new Uint8Array(0);
  #lastUseOrder = new Float64Array(0);
  #objectCount = 0;
  /** Logical clock for lastUseOrder: strictly increasing, never reused. */
  private nextOrder = 1;
  private evictableCountValue = 0;
  private evictableBytesValue = 0;

  constructor(objects?: EvictionObjects) {
    this.objects = objects;
    this.#objects = objects ?? new MapEvictionObjects();
  }

  /** Adds an object that just became evictable (its orders and count are final until removal). */
  protected abstract indexInsert(slot: number): void;
  /** Removes an evictable object, before any of its ordering fields change. */
  protected abstract indexRemove(slot: number): void;
  /** Slots of evictable objects in eviction order; walked lazily and stopped early. */
  protected abstract victimOrder(): Iterable<number>;
  /** Number of objects in the index (for invariant checks). */
  protected abstract indexSize(): number;
  /** The index's own per-slot arrays must hold `capacity` slots. */
  protected abstract growIndex(capacity: number): void;

  protected sealOrderOf(slot: number): number {
    return this.#objects.sealOrderAt(slot);
  }
  protected lastUseOrderOf(slot: number): number {
    return this.#lastUseOrder[slot] as number;
  }
  protected accessCountOf(slot: number): number {
    return this.#objects.useCountAt(slot);
  }

  objectSealed(key: string, sizeBytes: number): void {
    assert(typeof key === "string", "key is a string");
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0) {
      throw new RangeError(`objectSealed: sizeBytes must be a non-negative integer, got ${sizeBytes}`);
    }
    if (this.#slotOf(key) >= 0) throw new Error(`objectSealed: object ${key} is already tracked`);
    const slot = this.#track(key, sizeBytes);
    this.#lastUseOrder[slot] = this.takeOrder();
  }

  accessBegan(key: string): void {
    const slot = this.#slotOf(key);
    if (slot < 0) return;
    if (this.#evictable[slot] === 1) this.#leaveIndex(slot);
    this.#objects.recordUse(slot);
    this.#lastUseOrder[slot] = this.takeOrder();
  }

  accessEnded(key: string): void {
    const slot = this.#slotOf(key);
    if (slot < 0) return;
    if (this.#evictable[slot] === 1) {
      // Already evictable (a repeated accessEnded): refresh its recency.
      this.indexRemove(slot);
    } else {
      this.#evictable[slot] = 1;
      this.evictableCountValue += 1;
      this.evictableBytesValue += this.#objects.sizeBytesAt(slot);
    }
    this.#lastUseOrder[slot] = this.takeOrder();
    this.indexInsert(slot);
  }

  objectRemoved(key: string): void {
    const slot = this.#slotOf(key);
    if (slot < 0) return;
    if (this.#evictable[slot] === 1) this.#leaveIndex(slot);
    this.#tracked[slot] = NOT_TRACKED;
    this.#objectCount -= 1;
    this.#objects.untrack(key, slot);
  }

  chooseVictims(bytesNeeded: number): string[] {
    if (Number.isNaN(bytesNeeded)) throw new RangeError("chooseVictims: bytesNeeded is NaN");
    const victims: string[] = [];
    if (bytesNeeded <= 0) return victims;
    let victimBytes = 0;
    for (const slot of this.victimOrder()) {
      assert(this.#evictable[slot] === 1, "only evictable objects are chosen");
      victims.push(this.#objects.keyAt(slot));
      victimBytes += this.#objects.sizeBytesAt(slot);
      if (victimBytes >= bytesNeeded) break;
    }
    return victims;
  }

  get evictableCount(): number {
    return this.evictableCountValue;
  }

  get evictableBytes(): number {
    return this.evictableBytesValue;
  }

  get objectCount(): number {
    return this.#objectCount;
  }

  snapshot(): EvictionObjectState[] {
    const objects = this.#objects;
    const slots = this.#trackedSlots().sort((a, b) => objects.sealOrderAt(a) - objects.sealOrderAt(b));
    return slots.map((slot) => ({
      key: objects.keyAt(slot),
      sizeBytes: objects.sizeBytesAt(slot),
      evictable: this.#evictable[slot] === 1,
      sealOrder: objects.sealOrderAt(slot),
      lastUseOrder: this.#lastUseOrder[slot] as number,
      accessCount: objects.useCountAt(slot),
    }));
  }

  /**
   * Loads objects into an empty policy. sealOrder and lastUseOrder are only compared, then renumbered
   * (ties keep input order), so callers may pass any numbers, e.g. timestamps. An owner that already has
   * the facts (the table a migrated policy shares) keeps its own seal orders, which must agree.
   */
  load(states: Iterable<EvictionObjectState>): void {
    assert(this.#objectCount === 0 && this.nextOrder === 1, "load only into an empty policy");
    const input = Array.from(states, (state, position) => ({ state, position, slot: -1 }));
    for (const { state } of input) {
      if (!Number.isSafeInteger(state.sizeBytes) || state.sizeBytes < 0) {
        throw new RangeError(`load: object ${state.key} has invalid sizeBytes ${state.sizeBytes}`);
      }
      if (!Number.isSafeInteger(state.accessCount) || state.accessCount < 0) {
        throw new RangeError(`load: object ${state.key} has invalid accessCount ${state.accessCount}`);
      }
      if (Number.isNaN(state.sealOrder) || Number.isNaN(state.lastUseOrder)) {
        throw new RangeError(`load: object ${state.key} has a NaN order`);
      }
    }
    // Seal order first: it fixes the FIFO order.
    input.sort((a, b) => a.state.sealOrder - b.state.sealOrder || a.position - b.position);
    let previousSealOrder = Number.NEGATIVE_INFINITY;
    for (const [rank, item] of input.entries()) {
      const { state } = item;
      if (this.#slotOf(state.key) >= 0) throw new Error(`load: duplicate object ${state.key}`);
      item.slot = this.#track(state.key, state.sizeBytes, {
        sealOrder: rank + 1,
        useCount: state.accessCount,
      });
      const sealOrder = this.#objects.sealOrderAt(item.slot);
      assert(sealOrder > previousSealOrder, "the owner's seal orders follow the loaded order");
      previousSealOrder = sealOrder;
    }
    // Then recency: renumbered in use order, and evictable objects indexed least recent first.
    input.sort((a, b) => a.state.lastUseOrder - b.state.lastUseOrder || a.position - b.position);
    for (const { state, slot } of input) {
      this.#lastUseOrder[slot] = this.takeOrder();
      if (state.evictable) {
        this.#evictable[slot] = 1;
        this.evictableCountValue += 1;
        this.evictableBytesValue += this.#objects.sizeBytesAt(slot);
        this.indexInsert(slot);
      }
    }
  }

  /** Throws if the counters or the index disagree with the tracked objects. O(n). */
  checkInvariants(): void {
    let evictableCount = 0;
    let evictableBytes = 0;
    const slots = this.#trackedSlots();
    const objects = this.#objects;
    for (const slot of slots) {
      assert(objects.slotOf(objects.keyAt(slot)) === slot, `slot ${slot} is its key's slot`);
      if (this.#evictable[slot] === 1) {
        evictableCount += 1;
        evictableBytes += objects.sizeBytesAt(slot);
      }
    }
    for (let slot = 0; slot < this.#capacity; slot++) {
      if (this.#tracked[slot] !== TRACKED) assert(this.#evictable[slot] === 0, "untracked is not evictable");
    }
    assert(slots.length === this.#objectCount, "object count matches tracked slots");
    assert(evictableCount === this.evictableCountValue, "evictable count matches objects");
    assert(evictableBytes === this.evictableBytesValue, "evictable bytes match objects");
    assert(this.indexSize() === this.expectedIndexSize(evictableCount), "index holds the evictable objects");
    let walked = 0;
    for (const slot of this.victimOrder()) {
      assert(this.#evictable[slot] === 1 && walked < evictableCount, "victim order walks evictable slots");
      walked += 1;
    }
    assert(walked === this.expectedIndexSize(evictableCount), "victim order visits every evictable object");
  }

  /** How many objects the index holds given this many evictable objects ("none" keeps no index). */
  protected expectedIndexSize(evictableCount: number): number {
    return evictableCount;
  }

  /** An evictable object stops being evictable: out of the index and the evictable counters. */
  #leaveIndex(slot: number): void {
    this.indexRemove(slot);
    this.#evictable[slot] = 0;
    this.evictableCountValue -= 1;
    this.evictableBytesValue -= this.#objects.sizeBytesAt(slot);
  }

  /** Slot of a tracked key, -1 if the policy does not track it. */
  #slotOf(key: string): number {
    const slot = this.#objects.slotOf(key);
    return slot >= 0 && slot < this.#capacity && this.#tracked[slot] === TRACKED ? slot : -1;
  }

  #track(key: string, sizeBytes: number, loaded?: LoadedFacts): number {
    const slot = this.#objects.track(key, sizeBytes, loaded);
    assert(Number.isInteger(slot) && slot >= 0, "the owner gives a slot");
    if (slot >= this.#capacity) this.#grow(Math.max(slot + 1, this.#capacity * 2, INITIAL_SLOTS));
    this.#tracked[slot] = TRACKED;
    this.#evictable[slot] = 0;
    this.#lastUseOrder[slot] = 0;
    this.#objectCount += 1;
    return slot;
  }

  #trackedSlots(): number[] {
    const slots: number[] = [];
    for (let slot = 0; slot < this.#capacity; slot++) if (this.#tracked[slot] === TRACKED) slots.push(slot);
    return slots;
  }

  #grow(capacity: number): void {
    this.#tracked = grown(this.#tracked, capacity);
    this.#evictable = grown(this.#evictable, capacity);
    this.#lastUseOrder = grown(this.#lastUseOrder, capacity);
    this.#capacity = capacity;
    this.growIndex(capacity);
  }

  private takeOrder(): number {
    const order = this.nextOrder;
    assert(order < Number.MAX_SAFE_INTEGER, "logical clock within safe integers");
    this.nextOrder += 1;
    return order;
  }
}
