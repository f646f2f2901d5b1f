/**
 * An ordered set of slot numbers backed by a treap (randomised binary search tree, deterministic seed)
 * whose nodes live in typed arrays indexed by slot: O(log n) expected insert and remove, in-order
 * iteration from the minimum in O(log n + k) for the first k slots, and no JS object per member.
 * The comparator must define a strict total order on the slots held (no two distinct slots compare equal).
 */

import { assert } from "../assert.ts";
import { grown } from "../grow.ts";
import { TrackingEvictionPolicy } from "./tracking.ts";

const NIL = -1;

export class SlotOrderedSet {
  private readonly compare: (a: number, b: number) => number;
  private left = new Int32Array(0);
  private right = new Int32Array(0);
  private priority = new Uint32Array(0);
  private root = NIL;
  private sizeValue = 0;
  /** xorshift32 state: deterministic priorities, so behaviour is reproducible run to run. */
  private randomState = 0x9e3779b9;

  constructor(compare: (a: number, b: number) => number) {
    this.compare = compare;
  }

  get size(): number {
    return this.sizeValue;
  }

  /** Room for slots [0, capacity). */
  grow(capacity: number): void {
    if (capacity <= this.left.length) return;
    this.left = grown(this.left, capacity);
    this.right = grown(this.right, capacity);
    this.priority = grown(this.priority, capacity);
  }

  insert(slot: number): void {
    assert(slot >= 0 && slot < this.left.length, "slot within the set's capacity");
    this.left[slot] = NIL;
    this.right[slot] = NIL;
    this.priority[slot] = this.nextPriority();
    this.root = this.insertInto(this.root, slot);
    this.sizeValue += 1;
  }

  /** Removes a slot that is in the set (throws otherwise: the caller's bookkeeping is wrong). */
  remove(slot: number): void {
    this.root = this.removeFrom(this.root, slot);
    this.sizeValue -= 1;
  }

  /** Slots in ascending order. Lazily walked: stopping early costs O(log n + slots taken). */
  *values(): Generator<number, void, undefined> {
    const stack: number[] = [];
    let node = this.root;
    while (node !== NIL || stack.length > 0) {
      while (node !== NIL) {
        stack.push(node);
        node = this.left[node] as number;
      }
      const next = stack.pop();
      assert(next !== undefined, "treap walk stack is non-empty");
      yield next;
      node = this.right[next] as number;
    }
  }

  private nextPriority(): number {
    let x = this.randomState;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.randomState = x >>> 0;
    return this.randomState;
  }

  private insertInto(node: number, fresh: number): number {
    if (node === NIL) return fresh;
    const order = this.compare(fresh, node);
    assert(order !== 0, "ordered set values are unique");
    const priority = this.priority;
    if (order < 0) {
      const left = this.insertInto(this.left[node] as number, fresh);
      this.left[node] = left;
      if ((priority[left] as number) > (priority[node] as number)) {
        this.left[node] = this.right[left] as number;
        this.right[left] = node;
        return left;
      }
    } else {
      const right = this.insertInto(this.right[node] as number, fresh);
      this.right[node] = right;
      if ((priority[right] as number) > (priority[node] as number)) {
        this.right[node] = this.left[right] as number;
        this.left[right] = node;
        return right;
      }
    }
    return node;
  }

  private removeFrom(node: number, slot: number): number {
    assert(node !== NIL, "removed value is in the ordered set");
    const order = this.compare(slot, node);
    if (order < 0) {
      this.left[node] = this.removeFrom(this.left[node] as number, slot);
      return node;
    }
    if (order > 0) {
      this.right[node] = this.removeFrom(this.right[node] as number, slot);
      return node;
    }
    assert(node === slot, "removed value is the stored value");
    return this.merge(this.left[node] as number, this.right[node] as number);
  }

  /** Joins two treaps where every slot of `left` orders before every slot of `right`. */
  private merge(left: number, right: number): number {
    if (left === NIL) return right;
    if (right === NIL) return left;
    if ((this.priority[left] as number) > (this.priority[right] as number)) {
      this.right[left] = this.merge(this.right[left] as number, right);
      return left;
    }
    this.left[right] = this.merge(left, this.left[right] as number);
    return right;
  }
}

/**
 * A policy whose index is a SlotOrderedSet: the concrete policy supplies only the set (with its
 * comparator), and victims are taken in ascending order.
 */
export abstract class OrderedSetEvictionPolicy extends TrackingEvictionPolicy {
  protected abstract readonly evictable: SlotOrderedSet;

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
