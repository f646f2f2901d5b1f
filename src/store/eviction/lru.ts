/**
 * LRU: evicts the evictable object whose last use ended longest ago. The index is an insertion-ordered
 * Map: accessEnded re-inserts at the end, so iteration order is least recently used first. O(1).
 */

import type { EvictionPolicyName } from "./policy.ts";
import { type TrackedObject, TrackingEvictionPolicy } from "./tracking.ts";

export class LruEvictionPolicy extends TrackingEvictionPolicy {
  readonly name: EvictionPolicyName = "lru";
  private readonly evictable = new Map<string, TrackedObject>();

  protected indexInsert(object: TrackedObject): void {
    this.evictable.set(object.key, object);
  }

  protected indexRemove(object: TrackedObject): void {
    this.evictable.delete(object.key);
  }

  protected victimOrder(): Iterable<TrackedObject> {
    return this.evictable.values();
  }

  protected indexSize(): number {
    return this.evictable.size;
  }
}
