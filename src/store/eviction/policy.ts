/**
 * Eviction policies, called by the store at well-defined moments (as Arrow Plasma's eviction_policy.h).
 *
 * Lifecycle of one object, as seen by a policy:
 *   objectSealed(key, sizeBytes)  -> tracked, not yet evictable
 *   accessEnded(key)              -> evictable (the store calls it right after seal when no one holds it)
 *   accessBegan(key)              -> held, not evictable; counts as a use (LRU recency, LFU frequency)
 *   accessEnded(key)              -> evictable again, most recently used
 *   objectRemoved(key)            -> forgotten (deleted, evicted or aborted)
 * Only sealed objects with refCount 0 are evictable. Calls for keys the policy does not track (never
 * sealed, or already removed) are ignored, so the store may report accesses to unsealed objects.
 * objectSealed for a key that is already tracked throws (programming error: remove it first).
 *
 * Run-time policy switch: every policy tracks the same per-object state (EvictionObjectState), exported
 * by snapshot(). `migratePolicy(from, "lfu")` builds a new policy from that snapshot, so no object is lost
 * and the new policy starts with the full history (seal order, recency, frequency). A store that keeps
 * its own metadata can instead call `createEvictionPolicy(name, objects)` with its own states.
 *
 * One owner per fact: an object's size, seal order and use count belong to an EvictionObjects owner
 * (objects.ts). The store passes its object table (createEvictionPolicy(name, [], table)), so the policy
 * keeps no copy of them and only its ordering structure (tracking.ts), about 10 bytes a tracked object
 * plus the index's links, and no JS object; without an owner the policy keeps a private MapEvictionObjects.
 *
 * Complexity: every call is O(1) (LRU, none) or O(log n) expected (FIFO, LFU: treap-ordered), except
 * chooseVictims, which is O(victims) (plus O(log n) for FIFO and LFU), and snapshot, which is O(n).
 */

import { FifoEvictionPolicy } from "./fifo.ts";
import { LfuEvictionPolicy } from "./lfu.ts";
import { LruEvictionPolicy } from "./lru.ts";
import { NoneEvictionPolicy } from "./none.ts";
import type { EvictionObjects } from "./objects.ts";
import type { TrackingEvictionPolicy } from "./tracking.ts";

export type EvictionPolicyName = "lru" | "fifo" | "lfu" | "none";

export const EVICTION_POLICY_NAMES: readonly EvictionPolicyName[] = Object.freeze([
  "lru",
  "fifo",
  "lfu",
  "none",
]);

/** Per-object state shared by all policies: what a run-time policy switch carries over. */
export interface EvictionObjectState {
  readonly key: string;
  readonly sizeBytes: number;
  /** Sealed and not held by any client (refCount 0). */
  readonly evictable: boolean;
  /** Seal order: lower sealed earlier. Only compared, so any numbers work (e.g. timestamps). */
  readonly sealOrder: number;
  /** Order of the last use (accessBegan or accessEnded): lower is less recent. Only compared. */
  readonly lastUseOrder: number;
  /** Number of accessBegan calls since the object was sealed. */
  readonly accessCount: number;
}

export interface EvictionPolicy {
  readonly name: EvictionPolicyName;
  /** Object sealed: it now exists with sizeBytes; not evictable until accessEnded is called. */
  objectSealed(key: string, sizeBytes: number): void;
  /** A client began using the object (refCount 0 -> 1, or a get hit): not evictable; counts as a use. */
  accessBegan(key: string): void;
  /** refCount dropped to 0: evictable again (most recently used now). */
  accessEnded(key: string): void;
  /** Object left the store (deleted, evicted, aborted): forget it. Safe for keys the policy never saw. */
  objectRemoved(key: string): void;
  /**
   * Keys of evictable objects, in eviction order, whose sizes add up to at least bytesNeeded (or all
   * evictable ones if they do not reach it; none for bytesNeeded <= 0). Does not remove them: the store
   * calls objectRemoved for each one it actually evicts.
   */
  chooseVictims(bytesNeeded: number): string[];
  /** Evictable objects: count and bytes. Always 0 for "none", which never evicts. */
  readonly evictableCount: number;
  readonly evictableBytes: number;
  /** Objects tracked (sealed and not removed), evictable or not. */
  readonly objectCount: number;
  /** Per-object state of every tracked object, in seal order: input for createEvictionPolicy/migratePolicy. */
  snapshot(): EvictionObjectState[];
  /** The owner of the objects' facts the caller gave (a migrated policy shares it); undefined when the policy owns one. */
  readonly objects: EvictionObjects | undefined;
}

export function isEvictionPolicyName(value: string): value is EvictionPolicyName {
  return (EVICTION_POLICY_NAMES as readonly string[]).includes(value);
}

/**
 * A new policy, optionally pre-loaded with objects (e.g. another policy's snapshot()). Orders are
 * renumbered, ties broken by input position; duplicate keys or invalid sizes throw.
 */
export function createEvictionPolicy(
  name: EvictionPolicyName,
  objects: Iterable<EvictionObjectState> = [],
  owner?: EvictionObjects,
): EvictionPolicy {
  let policy: TrackingEvictionPolicy;
  switch (name) {
    case "lru":
      policy = new LruEvictionPolicy(owner);
      break;
    case "fifo":
      policy = new FifoEvictionPolicy(owner);
      break;
    case "lfu":
      policy = new LfuEvictionPolicy(owner);
      break;
    case "none":
      policy = new NoneEvictionPolicy(owner);
      break;
    default: {
      const unknown: never = name;
      throw new Error(`unknown eviction policy: ${String(unknown)}`);
    }
  }
  policy.load(objects);
  return policy;
}

/**
 * Switches policy at run time without losing objects: a new policy of kind `to` holding every object of
 * `from` with its seal order, recency, frequency and evictability. `from` is left unchanged; the store
 * replaces its reference and drops the old one.
 */
export function migratePolicy(from: EvictionPolicy, to: EvictionPolicyName): EvictionPolicy {
  return createEvictionPolicy(to, from.snapshot(), from.objects);
}
