/**
 * FIFO: evicts in seal order, oldest first; uses do not reorder. Held objects leave the index and come
 * back at their seal position, so the index is an ordered set keyed by seal order: O(log n).
 */

import { SlotOrderedSet } from "./ordered-set.ts";
import type { EvictionPolicyName } from "./policy.ts";
import { TrackingEvictionPolicy } from "./tracking.ts";

export class FifoEvictionPolicy extends TrackingEvictionPolicy {
  readonly name: EvictionPolicyName = "fifo";
  private readonly evictable = new SlotOrderedSet((a, b) => this.sealOrderOf(a) - this.sealOrderOf(b));

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
