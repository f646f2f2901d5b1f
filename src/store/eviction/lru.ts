/**
 * LRU: evicts the evictable object whose last use ended longest ago. The index is an intrusive doubly
 * linked list over slots (links in Int32Arrays): accessEnded appends at the tail, so walking from the
 * head is least recently used first. O(1).
 */

import { assert } from "../assert.ts";
import { grown } from "../grow.ts";
import type { EvictionPolicyName } from "./policy.ts";
import { TrackingEvictionPolicy } from "./tracking.ts";

const NIL = -1;

export class LruEvictionPolicy extends TrackingEvictionPolicy {
  readonly name: EvictionPolicyName = "lru";
  private prev = new Int32Array(0);
  private next = new Int32Array(0);
  private head = NIL;
  private tail = NIL;
  private length = 0;

  protected indexInsert(slot: number): void {
    this.prev[slot] = this.tail;
    this.next[slot] = NIL;
    if (this.tail === NIL) this.head = slot;
    else this.next[this.tail] = slot;
    this.tail = slot;
    this.length += 1;
  }

  protected indexRemove(slot: number): void {
    const prev = this.prev[slot] as number;
    const next = this.next[slot] as number;
    if (prev === NIL) {
      assert(this.head === slot, "a slot without predecessor is the head");
      this.head = next;
    } else {
      this.next[prev] = next;
    }
    if (next === NIL) {
      assert(this.tail === slot, "a slot without successor is the tail");
      this.tail = prev;
    } else {
      this.prev[next] = prev;
    }
    this.length -= 1;
  }

  protected *victimOrder(): Iterable<number> {
    for (let slot = this.head; slot !== NIL; slot = this.next[slot] as number) yield slot;
  }

  protected indexSize(): number {
    return this.length;
  }

  protected growIndex(capacity: number): void {
    this.prev = grown(this.prev, capacity);
    this.next = grown(this.next, capacity);
  }
}
