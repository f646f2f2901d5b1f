/**
 * Bookkeeping shared by every eviction policy: which objects exist, their size, whether they are
 * evictable, their seal order, last use and use count. A concrete policy only supplies the index that
 * orders evictable objects for chooseVictims.
 */

import type { EvictionObjectState, EvictionPolicy, EvictionPolicyName } from "./policy.ts";

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`eviction invariant: ${message}`);
}

export interface TrackedObject {
  readonly key: string;
  readonly sizeBytes: number;
  evictable: boolean;
  sealOrder: number;
  lastUseOrder: number;
  accessCount: number;
}

export abstract class TrackingEvictionPolicy implements EvictionPolicy {
  abstract readonly name: EvictionPolicyName;

  /** Insertion order is seal order (objects are only added by objectSealed and load). */
  private readonly objects = new Map<string, TrackedObject>();
  /** Shared logical clock for sealOrder and lastUseOrder: strictly increasing, never reused. */
  private nextOrder = 1;
  private evictableCountValue = 0;
  private evictableBytesValue = 0;

  /** Adds an object that just became evictable (its orders and count are final until removal). */
  protected abstract indexInsert(object: TrackedObject): void;
  /** Removes an evictable object, before any of its ordering fields change. */
  protected abstract indexRemove(object: TrackedObject): void;
  /** Evictable objects in eviction order; walked lazily and stopped early. */
  protected abstract victimOrder(): Iterable<TrackedObject>;
  /** Number of objects in the index (for invariant checks). */
  protected abstract indexSize(): number;

  objectSealed(key: string, sizeBytes: number): void {
    assert(typeof key === "string", "key is a string");
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0) {
      throw new RangeError(`objectSealed: sizeBytes must be a non-negative integer, got ${sizeBytes}`);
    }
    if (this.objects.has(key)) throw new Error(`objectSealed: object ${key} is already tracked`);
    const order = this.takeOrder();
    this.objects.set(key, {
      key,
      sizeBytes,
      evictable: false,
      sealOrder: order,
      lastUseOrder: order,
      accessCount: 0,
    });
  }

  accessBegan(key: string): void {
    const object = this.objects.get(key);
    if (object === undefined) return;
    if (object.evictable) {
      this.indexRemove(object);
      object.evictable = false;
      this.evictableCountValue -= 1;
      this.evictableBytesValue -= object.sizeBytes;
    }
    object.accessCount += 1;
    object.lastUseOrder = this.takeOrder();
  }

  accessEnded(key: string): void {
    const object = this.objects.get(key);
    if (object === undefined) return;
    if (object.evictable) {
      // Already evictable (a repeated accessEnded): refresh its recency.
      this.indexRemove(object);
    } else {
      object.evictable = true;
      this.evictableCountValue += 1;
      this.evictableBytesValue += object.sizeBytes;
    }
    object.lastUseOrder = this.takeOrder();
    this.indexInsert(object);
  }

  objectRemoved(key: string): void {
    const object = this.objects.get(key);
    if (object === undefined) return;
    if (object.evictable) {
      this.indexRemove(object);
      this.evictableCountValue -= 1;
      this.evictableBytesValue -= object.sizeBytes;
    }
    this.objects.delete(key);
  }

  chooseVictims(bytesNeeded: number): string[] {
    if (Number.isNaN(bytesNeeded)) throw new RangeError("chooseVictims: bytesNeeded is NaN");
    const victims: string[] = [];
    if (bytesNeeded <= 0) return victims;
    let victimBytes = 0;
    for (const object of this.victimOrder()) {
      assert(object.evictable, "only evictable objects are chosen");
      victims.push(object.key);
      victimBytes += object.sizeBytes;
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
    return this.objects.size;
  }

  snapshot(): EvictionObjectState[] {
    const states: EvictionObjectState[] = [];
    for (const object of this.objects.values()) {
      states.push({
        key: object.key,
        sizeBytes: object.sizeBytes,
        evictable: object.evictable,
        sealOrder: object.sealOrder,
        lastUseOrder: object.lastUseOrder,
        accessCount: object.accessCount,
      });
    }
    return states;
  }

  /**
   * Loads objects into an empty policy. sealOrder and lastUseOrder are only compared, then renumbered
   * from this policy's clock (ties keep input order), so callers may pass any numbers, e.g. timestamps.
   */
  load(states: Iterable<EvictionObjectState>): void {
    assert(this.objects.size === 0 && this.nextOrder === 1, "load only into an empty policy");
    const input = Array.from(states, (state, position) => ({ state, position }));
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
    // Seal order first: it fixes the objects map order and the FIFO order.
    input.sort((a, b) => a.state.sealOrder - b.state.sealOrder || a.position - b.position);
    for (const { state } of input) {
      if (this.objects.has(state.key)) throw new Error(`load: duplicate object ${state.key}`);
      this.objects.set(state.key, {
        key: state.key,
        sizeBytes: state.sizeBytes,
        evictable: false,
        sealOrder: this.takeOrder(),
        lastUseOrder: 0,
        accessCount: state.accessCount,
      });
    }
    // Then recency: renumbered in use order, and evictable objects indexed least recent first.
    input.sort((a, b) => a.state.lastUseOrder - b.state.lastUseOrder || a.position - b.position);
    for (const { state } of input) {
      const object = this.objects.get(state.key);
      assert(object !== undefined, "loaded object is tracked");
      object.lastUseOrder = this.takeOrder();
      if (state.evictable) {
        object.evictable = true;
        this.evictableCountValue += 1;
        this.evictableBytesValue += object.sizeBytes;
        this.indexInsert(object);
      }
    }
  }

  /** Throws if the counters or the index disagree with the tracked objects. O(n). */
  checkInvariants(): void {
    let evictableCount = 0;
    let evictableBytes = 0;
    for (const object of this.objects.values()) {
      if (object.evictable) {
        evictableCount += 1;
        evictableBytes += object.sizeBytes;
      }
    }
    assert(evictableCount === this.evictableCountValue, "evictable count matches objects");
    assert(evictableBytes === this.evictableBytesValue, "evictable bytes match objects");
    assert(this.indexSize() === this.expectedIndexSize(evictableCount), "index holds the evictable objects");
  }

  /** How many objects the index holds given this many evictable objects ("none" keeps no index). */
  protected expectedIndexSize(evictableCount: number): number {
    return evictableCount;
  }

  private takeOrder(): number {
    const order = this.nextOrder;
    assert(order < Number.MAX_SAFE_INTEGER, "logical clock within safe integers");
    this.nextOrder += 1;
    return order;
  }
}
