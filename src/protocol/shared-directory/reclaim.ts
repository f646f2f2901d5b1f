/**
 * The store's reuse protocol (invariant I2), as pure bookkeeping the core calls: mark the entry REMOVING
 * (`remove`), then scan every live pin table (`reclaim`); an entry no pin names is freed (its slot becomes
 * a tombstone and its token is handed back so the caller can free the memory); a pinned one stays queued
 * and is scanned again on the next `reclaim` (call it on release notifications, on a timer, or when a
 * client's table is dropped because the client died).
 */
import { collectPins } from "./pin-scanner.ts";
import type { PinTableView } from "./pin-table.ts";
import type { DirectoryWriter, RemovalTicket } from "./writer.ts";

interface Pending<T> {
  readonly ticket: RemovalTicket;
  readonly token: T;
}

export class DeferredRemovals<T> {
  #pending: Pending<T>[] = [];

  get pendingCount(): number {
    return this.#pending.length;
  }

  /** Tokens of removals still waiting for their pins to go. */
  pendingTokens(): T[] {
    return this.#pending.map((p) => p.token);
  }

  /** Mark entry `index` REMOVING and queue it; `token` (e.g. the object's allocation) comes back when freed. */
  remove(writer: DirectoryWriter, index: number, token: T): RemovalTicket {
    const ticket = writer.beginRemove(index);
    this.#pending.push({ ticket, token });
    return ticket;
  }

  /** Scan the pins once; free every queued entry no pin names. Returns the freed tokens, in queue order. */
  reclaim(writer: DirectoryWriter, tables: Iterable<PinTableView>): T[] {
    if (this.#pending.length === 0) return [];
    const pins = collectPins(tables, writer.capacity);
    const freed: T[] = [];
    const kept: Pending<T>[] = [];
    for (const pending of this.#pending) {
      if (pins.get(pending.ticket.index, pending.ticket.sealedVersion) > 0) {
        kept.push(pending);
      } else {
        writer.finishRemove(pending.ticket);
        freed.push(pending.token);
      }
    }
    this.#pending = kept;
    return freed;
  }
}
