/**
 * Pin tables: one shared region per client, created by the store, written only by that client (the store
 * reads it and trusts nothing in it). A pin slot is two u32 words, TAG (entry index + 1, 0 = free) and
 * VERSION (the entry version pinned). The client writes VERSION before TAG; the store reads TAG before
 * VERSION; a slot is freed by storing TAG = 0. After the slots, a ring of recent accesses (entry index + 1)
 * with a head counter lets the store see uses made without it (for LRU/LFU), approximately.
 */
import { ProtocolError } from "../errors.ts";

/** "PLPN" little-endian. */
export const PIN_TABLE_MAGIC = 0x4e504c50;
export const PIN_TABLE_FORMAT = 1;
export const PIN_TABLE_HEADER_BYTES = 32;
export const DEFAULT_PIN_SLOTS = 4096;
export const DEFAULT_ACCESS_RING = 1024;

export const PinHeader = {
  MAGIC: 0,
  FORMAT: 1,
  SLOT_COUNT: 2,
  RING_SIZE: 3,
  /** Accesses recorded so far (mod 2^32); the ring holds the last RING_SIZE of them. */
  ACCESS_HEAD: 4,
} as const;

const HEADER_WORDS = PIN_TABLE_HEADER_BYTES / 4;

/** The store's own record of a client's table: sizes come from here, never from the client-writable header. */
export interface PinTableView {
  readonly words: Uint32Array;
  readonly slotCount: number;
  readonly ringSize: number;
}

export function pinTableSizeBytes(slotCount: number, ringSize: number): number {
  if (!Number.isSafeInteger(slotCount) || slotCount < 1 || slotCount > 1 << 20) {
    throw new RangeError(`pin slots must be an integer in [1, 2^20], got ${slotCount}`);
  }
  if (!Number.isSafeInteger(ringSize) || ringSize < 1 || ringSize > 1 << 20) {
    throw new RangeError(`access ring size must be an integer in [1, 2^20], got ${ringSize}`);
  }
  return PIN_TABLE_HEADER_BYTES + slotCount * 8 + ringSize * 4;
}

/** Word index of slot `slot`'s TAG; its VERSION is the next word. */
export function pinTagAt(slot: number): number {
  return HEADER_WORDS + slot * 2;
}

export function accessRingAt(slotCount: number): number {
  return HEADER_WORDS + slotCount * 2;
}

/** Store side: initialise a fresh (zeroed) region as a pin table. */
export function initPinTable(region: ArrayBuffer, slotCount: number, ringSize: number): PinTableView {
  const words = new Uint32Array(region, 0, pinTableSizeBytes(slotCount, ringSize) / 4);
  Atomics.store(words, PinHeader.SLOT_COUNT, slotCount);
  Atomics.store(words, PinHeader.RING_SIZE, ringSize);
  Atomics.store(words, PinHeader.FORMAT, PIN_TABLE_FORMAT);
  Atomics.store(words, PinHeader.MAGIC, PIN_TABLE_MAGIC);
  return { words, slotCount, ringSize };
}

/** Client side: the pins this client holds, in its own writable mapping of the table. */
export class PinTable {
  readonly slotCount: number;
  readonly ringSize: number;
  readonly #words: Uint32Array;
  readonly #free: Int32Array;
  readonly #inUse: Uint8Array;
  readonly #ringAt: number;
  #freeTop: number;

  /** Attach to a table the store created (and sent with the arena). Throws ProtocolError if it is not one. */
  static attach(region: ArrayBuffer): PinTable {
    const header = new Uint32Array(region, 0, Math.min(HEADER_WORDS, region.byteLength >>> 2));
    if (header[PinHeader.MAGIC] !== PIN_TABLE_MAGIC || header[PinHeader.FORMAT] !== PIN_TABLE_FORMAT) {
      throw new ProtocolError("not a plasma pin table (bad magic or format)");
    }
    const slotCount = header[PinHeader.SLOT_COUNT] as number;
    const ringSize = header[PinHeader.RING_SIZE] as number;
    const sizeBytes = pinTableSizeBytes(slotCount, ringSize);
    if (region.byteLength < sizeBytes) throw new ProtocolError(`pin table needs ${sizeBytes} bytes`);
    return new PinTable(new Uint32Array(region, 0, sizeBytes / 4), slotCount, ringSize);
  }

  private constructor(words: Uint32Array, slotCount: number, ringSize: number) {
    this.#words = words;
    this.slotCount = slotCount;
    this.ringSize = ringSize;
    this.#ringAt = accessRingAt(slotCount);
    this.#free = new Int32Array(slotCount);
    this.#inUse = new Uint8Array(slotCount);
    for (let i = 0; i < slotCount; i++) this.#free[i] = slotCount - 1 - i;
    this.#freeTop = slotCount;
  }

  get pinnedCount(): number {
    return this.slotCount - this.#freeTop;
  }

  /** Publish a pin on (index, version); returns its slot, or -1 when the table is full (use the socket). */
  pin(index: number, version: number): number {
    if (this.#freeTop === 0) return -1;
    const slot = this.#free[--this.#freeTop] as number;
    this.#inUse[slot] = 1;
    const at = pinTagAt(slot);
    Atomics.store(this.#words, at + 1, version);
    Atomics.store(this.#words, at, index + 1);
    return slot;
  }

  /** Drop a pin. The caller must be done with the object's memory. */
  unpin(slot: number): void {
    if (this.#inUse[slot] !== 1) throw new RangeError(`pin slot ${slot} is not pinned`);
    Atomics.store(this.#words, pinTagAt(slot), 0);
    this.#inUse[slot] = 0;
    this.#free[this.#freeTop++] = slot;
  }

  /** Note a use of entry `index` for the store's LRU/LFU (the store drains the ring when it likes). */
  recordAccess(index: number): void {
    const head = this.#words[PinHeader.ACCESS_HEAD] as number;
    this.#words[this.#ringAt + (head % this.ringSize)] = index + 1;
    Atomics.store(this.#words, PinHeader.ACCESS_HEAD, (head + 1) >>> 0);
  }
}
