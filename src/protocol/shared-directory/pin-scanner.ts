/**
 * Store side: reading every client's pin table. The tables are untrusted: any u32 may be in any word. A
 * slot names a pin only if its TAG is in [1, capacity]; anything else is ignored. A garbage slot that
 * happens to name a real (index, version) pins that entry, which is no worse than a client holding it: it
 * can delay a free, never cause one. Nothing read here is used as an offset, length or loop bound.
 */
import { accessRingAt, PinHeader, type PinTableView, pinTagAt } from "./pin-table.ts";

const TWO_32 = 2 ** 32;

/** Pins counted per (entry index, version), from one pass over a set of tables. */
export class PinCounts {
  readonly #counts = new Map<number, number>();

  add(index: number, version: number): void {
    const key = index * TWO_32 + version;
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  /** Pins naming entry `index` at `version`. */
  get(index: number, version: number): number {
    return this.#counts.get(index * TWO_32 + version) ?? 0;
  }

  /** Every (index, version, pins) seen. */
  *entries(): IterableIterator<{ index: number; version: number; pins: number }> {
    for (const [key, pins] of this.#counts) {
      yield { index: Math.floor(key / TWO_32), version: key % TWO_32, pins };
    }
  }

  get total(): number {
    let sum = 0;
    for (const pins of this.#counts.values()) sum += pins;
    return sum;
  }
}

/** One pass over all tables (TAG before VERSION in each slot, as the protocol requires). */
export function collectPins(tables: Iterable<PinTableView>, capacity: number): PinCounts {
  const counts = new PinCounts();
  for (const table of tables) {
    const words = table.words;
    for (let slot = 0; slot < table.slotCount; slot++) {
      const at = pinTagAt(slot);
      const tag = Atomics.load(words, at);
      if (tag === 0 || tag > capacity) continue;
      counts.add(tag - 1, Atomics.load(words, at + 1));
    }
  }
  return counts;
}

/** Whether any table holds a pin naming (index, version): one entry, without building counts. */
export function isPinned(tables: Iterable<PinTableView>, index: number, version: number): boolean {
  const tag = index + 1;
  for (const table of tables) {
    const words = table.words;
    for (let slot = 0; slot < table.slotCount; slot++) {
      const at = pinTagAt(slot);
      if (Atomics.load(words, at) === tag && Atomics.load(words, at + 1) === version) return true;
    }
  }
  return false;
}

/**
 * Visit the entries a client recorded as used since `cursor` (the ACCESS_HEAD value the store saw last);
 * returns the new cursor. At most ringSize visits whatever the client wrote; out-of-range values skipped.
 */
export function drainAccesses(
  table: PinTableView,
  cursor: number,
  capacity: number,
  visit: (index: number) => void,
): number {
  const head = Atomics.load(table.words, PinHeader.ACCESS_HEAD);
  const pending = Math.min((head - cursor) >>> 0, table.ringSize);
  const ringAt = accessRingAt(table.slotCount);
  for (let n = pending; n > 0; n--) {
    const tag = Atomics.load(table.words, ringAt + (((head - n) >>> 0) % table.ringSize));
    if (tag !== 0 && tag <= capacity) visit(tag - 1);
  }
  return head;
}
