/**
 * LFU: evicts the evictable object with the fewest uses (accessBegan calls since seal), ties broken by
 * least recent use. Use counts can jump by more than one while an object is held, so the index is an
 * ordered set keyed by (accessCount, lastUseOrder) rather than adjacent frequency buckets: O(log n).
 */

import { OrderedSet } from "./ordered-set.ts";
import type { EvictionPolicyName } from "./policy.ts";
import { type TrackedObject, TrackingEvictionPolicy } from "./tracking.ts";

export class LfuEvictionPolicy extends TrackingEvictionPolicy {
  readonly name: EvictionPolicyName = "lfu";
  private readonly evictable = new OrderedSet<TrackedObject>(
    (a, b) => a.accessCount - b.accessCount || a.lastUseOrder - b.lastUseOrder,
  );

  protected indexInsert(object: TrackedObject): void {
    this.evictable.insert(object);
  }

  protected indexRemove(object: TrackedObject): void {
    this.evictable.remove(object);
  }

  protected victimOrder(): Iterable<TrackedObject> {
    return this.evictable.values();
  }

  protected indexSize(): number {
    return this.evictable.size;
  }
}
