/**
 * The reader's whole protocol in one call (invariant I1): look up, publish a pin, re-check the entry, and
 * only then report it usable. On any failure the pin is withdrawn and the caller asks the store instead.
 */

import type { PinTable } from "./pin-table.ts";
import { type DirectoryHit, type DirectoryReader, LookupStatus } from "./reader.ts";

export const AcquireStatus = {
  /** Pinned and re-validated: `out` describes the object; `release(pins, slot)` when done. */
  PINNED: 0,
  /** Not sealed in the directory. */
  ABSENT: 1,
  /** Busy entry, full pin table, or the entry changed between lookup and pin: use the socket. */
  FALL_BACK: 2,
} as const;
export type AcquireStatusValue = (typeof AcquireStatus)[keyof typeof AcquireStatus];

/** Pin the sealed object `id`. On PINNED, `out` describes the object and `slot` holds the pin. */
export class DirectoryAcquirer {
  readonly #reader: DirectoryReader;
  readonly #pins: PinTable;
  /** The pin slot of the last PINNED acquire. */
  slot = -1;

  constructor(reader: DirectoryReader, pins: PinTable) {
    this.#reader = reader;
    this.#pins = pins;
  }

  acquire(id: Uint8Array, out: DirectoryHit): AcquireStatusValue {
    const status = this.#reader.find(id, out);
    if (status !== LookupStatus.FOUND) {
      return status === LookupStatus.ABSENT ? AcquireStatus.ABSENT : AcquireStatus.FALL_BACK;
    }
    const slot = this.#pins.pin(out.index, out.version);
    if (slot < 0) return AcquireStatus.FALL_BACK;
    // The pin's Atomics.store is a full barrier: this load happens after the pin is visible to the store.
    if (this.#reader.versionAt(out.index) !== out.version) {
      this.#pins.unpin(slot);
      return AcquireStatus.FALL_BACK;
    }
    this.#pins.recordAccess(out.index);
    this.slot = slot;
    return AcquireStatus.PINNED;
  }

  /** Drop the pin taken by a PINNED acquire. */
  release(slot: number): void {
    this.#pins.unpin(slot);
  }
}
