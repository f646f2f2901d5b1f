/**
 * An ordered set backed by a treap (randomised binary search tree, deterministic seed): O(log n) expected
 * insert and remove, in-order iteration from the minimum in O(log n + k) for the first k values.
 * Pure JS bookkeeping for the eviction policies; the comparator must define a strict total order on the
 * values held (no two distinct values compare equal).
 */

import { assert } from "./tracking.ts";

class TreapNode<T> {
  readonly value: T;
  readonly priority: number;
  left: TreapNode<T> | null = null;
  right: TreapNode<T> | null = null;

  constructor(value: T, priority: number) {
    this.value = value;
    this.priority = priority;
  }
}

export class OrderedSet<T> {
  private readonly compare: (a: T, b: T) => number;
  private root: TreapNode<T> | null = null;
  private sizeValue = 0;
  /** xorshift32 state: deterministic priorities, so behaviour is reproducible run to run. */
  private randomState = 0x9e3779b9;

  constructor(compare: (a: T, b: T) => number) {
    this.compare = compare;
  }

  get size(): number {
    return this.sizeValue;
  }

  insert(value: T): void {
    this.root = this.insertInto(this.root, new TreapNode(value, this.nextPriority()));
    this.sizeValue += 1;
  }

  /** Removes a value that is in the set (throws otherwise: the caller's bookkeeping is wrong). */
  remove(value: T): void {
    this.root = this.removeFrom(this.root, value);
    this.sizeValue -= 1;
  }

  /** Values in ascending order. Lazily walked: stopping early costs O(log n + values taken). */
  *values(): Generator<T, void, undefined> {
    const stack: TreapNode<T>[] = [];
    let node = this.root;
    while (node !== null || stack.length > 0) {
      while (node !== null) {
        stack.push(node);
        node = node.left;
      }
      const next = stack.pop();
      assert(next !== undefined, "treap walk stack is non-empty");
      yield next.value;
      node = next.right;
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

  private insertInto(node: TreapNode<T> | null, fresh: TreapNode<T>): TreapNode<T> {
    if (node === null) return fresh;
    const order = this.compare(fresh.value, node.value);
    assert(order !== 0, "ordered set values are unique");
    if (order < 0) {
      const left = this.insertInto(node.left, fresh);
      node.left = left;
      if (left.priority > node.priority) {
        node.left = left.right;
        left.right = node;
        return left;
      }
    } else {
      const right = this.insertInto(node.right, fresh);
      node.right = right;
      if (right.priority > node.priority) {
        node.right = right.left;
        right.left = node;
        return right;
      }
    }
    return node;
  }

  private removeFrom(node: TreapNode<T> | null, value: T): TreapNode<T> | null {
    assert(node !== null, "removed value is in the ordered set");
    const order = this.compare(value, node.value);
    if (order < 0) {
      node.left = this.removeFrom(node.left, value);
      return node;
    }
    if (order > 0) {
      node.right = this.removeFrom(node.right, value);
      return node;
    }
    assert(node.value === value, "removed value is the stored value");
    return merge(node.left, node.right);
  }
}

/** Joins two treaps where every value of `left` orders before every value of `right`. */
function merge<T>(left: TreapNode<T> | null, right: TreapNode<T> | null): TreapNode<T> | null {
  if (left === null) return right;
  if (right === null) return left;
  if (left.priority > right.priority) {
    left.right = merge(left.right, right);
    return left;
  }
  right.left = merge(left, right.left);
  return right;
}
