/**
 * LFU: evicts the evictable object with the fewest uses (accessBegan calls since seal), ties broken by
 * least recent use. Use counts can jump by more than one while an object is held, so the index is an
 * ordered set keyed by (accessCount, lastUseOrder) rather than adjacent frequency buckets: O(log n).
 */

import { OrderedSetEvictionPolicy, SlotOrderedSet } from "./ordered-set.ts";
import type { EvictionPolicyName } from "./policy.ts";

export class LfuEvictionPolicy extends OrderedSetEvictionPolicy {
  readonly name: EvictionPolicyName = "lfu";
  protected readonly evictable = new SlotOrderedSet(
    (a, b) =>
      this.accessCountOf(a) - this.accessCountOf(b) || this.lastUseOrderOf(a) - this.lastUseOrderOf(b),
  );
}
