/**
 * none: never evicts. Objects are still tracked (so a run-time switch to another policy keeps them), but
 * chooseVictims returns nothing and evictableCount/evictableBytes are 0.
 */

import type { EvictionPolicyName } from "./policy.ts";
import { TrackingEvictionPolicy } from "./tracking.ts";

export class NoneEvictionPolicy extends TrackingEvictionPolicy {
  readonly name: EvictionPolicyName = "none";

  override get evictableCount(): number {
    return 0;
  }

  override get evictableBytes(): number {
    return 0;
  }

  protected indexInsert(_slot: number): void {}

  protected indexRemove(_slot: number): void {}

  protected victimOrder(): Iterable<number> {
    return [];
  }

  protected growIndex(_capacity: number): void {}

  protected indexSize(): number {
    return 0;
  }

  protected override expectedIndexSize(_evictableCount: number): number {
    return 0;
  }
}
