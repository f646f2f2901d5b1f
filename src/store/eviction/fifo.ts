/**
 * FIFO: evicts in seal order, oldest first; uses do not reorder. Held objects leave the index and come
 * back at their seal position, so the index is an ordered set keyed by seal order: O(log n).
 */

import { OrderedSet } from "./ordered-set.ts";
import type { EvictionPolicyName } from "./policy.ts";
import { type TrackedObject, TrackingEvictionPolicy } from "./tracking.ts";

export class FifoEvictionPolicy extends TrackingEvictionPolicy {
  readonly name: EvictionPolicyName = "fifo";
  private readonly evictable = new OrderedSet<TrackedObject>((a, b) => a.sealOrder - b.sealOrder);

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
