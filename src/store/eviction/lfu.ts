/**
 * LFU: evicts the evictable object with the fewest uses (accessBegan calls since seal), ties broken by
 * least recent use. Use counts can jump by more than one while an object is held, so the index is an
 * ordered set keyed by (accessCount, lastUseOrder) rather than adjacent frequency buckets: O(log n).
 */

import { SlotOrderedSet } from "./ordered-set.ts";
import type { EvictionPolicyName } from "./policy.ts";
import { TrackingEvictionPolicy } from "./tracking.ts";

export class LfuEvictionPolicy extends TrackingEvictionPolicy {
  readonly name: EvictionPolicyName = "lfu";
  private readonly evictable = new SlotOrderedSet(
    (a, b) =>
      this.accessCountOf(a) - this.accessCountOf(b) || this.lastUseOrderOf(a) - this.lastUseOrderOf(b),
  );

  protected indexInsert(slot: number): void {
    this.evictable.insert(slot);
  }

  protected indexRemove(slot: number): void {
    this.evictable.remove(slot);
  }

  protected victimOrder(): Iterable<number> {
    return this.evictable.values();
  }

  protected indexSize(): number {
    return this.evictable.size;
  }

  protected growIndex(capacity: number): void {
    this.evictable.grow(capacity);
  }
}
