/**
 * FIFO: evicts in seal order, oldest first; uses do not reorder. Held objects leave the index and come
 * back at their seal position, so the index is an ordered set keyed by seal order: O(log n).
 */

import { OrderedSetEvictionPolicy, SlotOrderedSet } from "./ordered-set.ts";
import type { EvictionPolicyName } from "./policy.ts";

export class FifoEvictionPolicy extends OrderedSetEvictionPolicy {
  readonly name: EvictionPolicyName = "fifo";
  protected readonly evictable = new SlotOrderedSet((a, b) => this.sealOrderOf(a) - this.sealOrderOf(b));
}
