/**
 * Bookkeeping shared by every eviction policy: which objects exist, their size, whether they are
 * evictable, their seal order, last use and use count. A concrete policy only supplies the index that
 * orders evictable objects for chooseVictims.
 *
 * Memory layout: struct of arrays. Each tracked object is a slot number given by a PolicyKeyIndex, and
 * its fields live in typed arrays indexed by that slot (the concrete index keeps its links in typed
 * arrays too), so tracking a million objects allocates no per-object JS objects. The store passes its
 * own object table as the key index (the policy then shares the table's slots and needs no map of its
 * own); a policy created without one keeps a private Map from key to slot.
 */

import type { EvictionObjectState, EvictionPolicy, EvictionPolicyName } from "./policy.ts";

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`eviction invariant: ${message}`);
}

/** Maps keys to small non-negative slot numbers (dense, reused) for a policy's arrays. */
export interface PolicyKeyIndex {
  /** Slot of the key, -1 if the index does not know it. */
  slotOf(key: string): number;
  /** Slot for a key the policy starts tracking; an index that owns its slots assigns one. */
  acquire(key: string): number;
  /** The policy stopped tracking the key held in this slot. */
  release(key: string, slot: number): void;
  keyAt(slot: number): string;
}

/** A private key index: Map from key to slot, slots reused through a free list. */
export class MapKeyIndex implements PolicyKeyIndex {
  readonly #slots = new Map<string, number>();
  readonly #keys: string[] = [];
  readonly #free: number[] = [];

  slotOf(key: string): number {
    return this.#slots.get(key) ?? -1;
  }

  acquire(key: string): number {
    const known = this.#slots.get(key);
    if (known !== undefined) return known;
    const slot = this.#free.pop() ?? this.#keys.length;
    this.#keys[slot] = key;
    this.#slots.set(key, slot);
    return slot;
  }

  release(key: string, slot: number): void {
    if (this.#slots.get(key) !== slot) return;
    this.#slots.delete(key);
    this.#keys[slot] = "";
    this.#free.push(slot);
  }

  keyAt(slot: number): string {
    return this.#keys[slot] ?? "";
  }
}

const NOT_TRACKED = 0;
const TRACKED = 1;
const INITIAL_SLOTS = 64;

export abstract class TrackingEvictionPolicy implements EvictionPolicy {
  abstract readonly name: EvictionPolicyName;
  /** The key index given by the caller (shared on migration), undefined when the policy owns its own. */
  readonly keyIndex: PolicyKeyIndex | undefined;
  readonly #index: PolicyKeyIndex;

  #capacity = 0;
  #tracked = new Uint8Array(0);
  #evictable = new Uint8Array(0);
  #sizeBytes = new Float64Array(0);
  #sealOrder = new Float64Array(0);
  #lastUseOrder = new Float64Array(0);
  #accessCount = new Float64Array(0);
  #objectCount = 0;
  /** Shared logical clock for sealOrder and lastUseOrder: strictly increasing, never reused. */
  private nextOrder = 1;
  private evictableCountValue = 0;
  private evictableBytesValue = 0;

  constructor(keyIndex?: PolicyKeyIndex) {
    this.keyIndex = keyIndex;
    this.#index = keyIndex ?? new MapKeyIndex();
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
    return this.#sealOrder[slot] as number;
  }
  protected lastUseOrderOf(slot: number): number {
    return this.#lastUseOrder[slot] as number;
  }
  protected accessCountOf(slot: number): number {
    return this.#accessCount[slot] as number;
  }

  objectSealed(key: string, sizeBytes: number): void {
    assert(typeof key === "string", "key is a string");
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0) {
      throw new RangeError(`objectSealed: sizeBytes must be a non-negative integer, got ${sizeBytes}`);
    }
    if (this.#slotOf(key) >= 0) throw new Error(`objectSealed: object ${key} is already tracked`);
    const order = this.takeOrder();
    this.#track(key, sizeBytes, order, order, 0);
  }

  accessBegan(key: string): void {
    const slot = this.#slotOf(key);
    if (slot < 0) return;
    if (this.#evictable[slot] === 1) this.#leaveIndex(slot);
    this.#accessCount[slot] = (this.#accessCount[slot] as number) + 1;
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
      this.evictableBytesValue += this.#sizeBytes[slot] as number;
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
    this.#index.release(key, slot);
  }

  chooseVictims(bytesNeeded: number): string[] {
    if (Number.isNaN(bytesNeeded)) throw new RangeError("chooseVictims: bytesNeeded is NaN");
    const victims: string[] = [];
    if (bytesNeeded <= 0) return victims;
    let victimBytes = 0;
    for (const slot of this.victimOrder()) {
      assert(this.#evictable[slot] === 1, "only evictable objects are chosen");
      victims.push(this.#index.keyAt(slot));
      victimBytes += this.#sizeBytes[slot] as number;
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
    const slots = this.#trackedSlots().sort(
      (a, b) => (this.#sealOrder[a] as number) - (this.#sealOrder[b] as number),
    );
    return slots.map((slot) => ({
      key: this.#index.keyAt(slot),
      sizeBytes: this.#sizeBytes[slot] as number,
      evictable: this.#evictable[slot] === 1,
      sealOrder: this.#sealOrder[slot] as number,
      lastUseOrder: this.#lastUseOrder[slot] as number,
      accessCount: this.#accessCount[slot] as number,
    }));
  }

  /**
   * Loads objects into an empty policy. sealOrder and lastUseOrder are only compared, then renumbered
   * from this policy's clock (ties keep input order), so callers may pass any numbers, e.g. timestamps.
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
    for (const item of input) {
      const { state } = item;
      if (this.#slotOf(state.key) >= 0) throw new Error(`load: duplicate object ${state.key}`);
      item.slot = this.#track(state.key, state.sizeBytes, this.takeOrder(), 0, state.accessCount);
    }
    // Then recency: renumbered in use order, and evictable objects indexed least recent first.
    input.sort((a, b) => a.state.lastUseOrder - b.state.lastUseOrder || a.position - b.position);
    for (const { state, slot } of input) {
      this.#lastUseOrder[slot] = this.takeOrder();
      if (state.evictable) {
        this.#evictable[slot] = 1;
        this.evictableCountValue += 1;
        this.evictableBytesValue += this.#sizeBytes[slot] as number;
        this.indexInsert(slot);
      }
    }
  }

  /** Throws if the counters or the index disagree with the tracked objects. O(n). */
  checkInvariants(): void {
    let evictableCount = 0;
    let evictableBytes = 0;
    const slots = this.#trackedSlots();
    for (const slot of slots) {
      assert(this.#index.slotOf(this.#index.keyAt(slot)) === slot, `slot ${slot} is its key's slot`);
      if (this.#evictable[slot] === 1) {
        evictableCount += 1;
        evictableBytes += this.#sizeBytes[slot] as number;
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
    this.evictableBytesValue -= this.#sizeBytes[slot] as number;
  }

  /** Slot of a tracked key, -1 if the policy does not track it. */
  #slotOf(key: string): number {
    const slot = this.#index.slotOf(key);
    return slot >= 0 && slot < this.#capacity && this.#tracked[slot] === TRACKED ? slot : -1;
  }

  #track(
    key: string,
    sizeBytes: number,
    sealOrder: number,
    lastUseOrder: number,
    accessCount: number,
  ): number {
    const slot = this.#index.acquire(key);
    assert(Number.isInteger(slot) && slot >= 0, "key index gives a slot");
    if (slot >= this.#capacity) this.#grow(Math.max(slot + 1, this.#capacity * 2, INITIAL_SLOTS));
    this.#tracked[slot] = TRACKED;
    this.#evictable[slot] = 0;
    this.#sizeBytes[slot] = sizeBytes;
    this.#sealOrder[slot] = sealOrder;
    this.#lastUseOrder[slot] = lastUseOrder;
    this.#accessCount[slot] = accessCount;
    this.#objectCount += 1;
    return slot;
  }

  #trackedSlots(): number[] {
    const slots: number[] = [];
    for (let slot = 0; slot < this.#capacity; slot++) if (this.#tracked[slot] === TRACKED) slots.push(slot);
    return slots;
  }

  #grow(capacity: number): void {
    const copy = <T extends Float64Array | Uint8Array>(old: T, next: T): T => {
      next.set(old);
      return next;
    };
    this.#tracked = copy(this.#tracked, new Uint8Array(capacity));
    this.#evictable = copy(this.#evictable, new Uint8Array(capacity));
    this.#sizeBytes = copy(this.#sizeBytes, new Float64Array(capacity));
    this.#sealOrder = copy(this.#sealOrder, new Float64Array(capacity));
    this.#lastUseOrder = copy(this.#lastUseOrder, new Float64Array(capacity));
    this.#accessCount = copy(this.#accessCount, new Float64Array(capacity));
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
