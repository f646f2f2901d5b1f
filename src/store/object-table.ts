import type { ObjectState } from "../protocol/messages.ts";

/** One object in the store. Mutable by the store core only. */
export interface ObjectEntry {
  /** Latin1 string of the 20 id bytes: the table key. */
  readonly key: string;
  readonly id: Uint8Array;
  readonly offset: number;
  readonly dataSize: number;
  readonly metadataSize: number;
  /** Bytes the allocator reserved (rounded up). */
  readonly allocatedBytes: number;
  state: ObjectState;
  readonly creatorClientId: number;
  /** Store references per client id; a client holds one store reference per grant it has not released. */
  readonly holders: Map<number, number>;
  /** Epoch ms of create, as Date.now(). */
  readonly createTime: number;
  /** Monotonic ms of create, for the construct duration. */
  readonly createdAtMs: number;
  /** Ms from create to seal; -1 while unsealed. */
  constructDurationMs: number;
  /** Epoch ms of the last create, get or release touching it. */
  lastAccessTime: number;
  accessCount: number;
  /** Order of seal (0 while unsealed), for subscribers and FIFO. */
  sealOrder: number;
  /** delete() was asked while it was in use or unsealed: remove it when the last reference goes. */
  deletePending: boolean;
}

/** Number of clients holding the object (what Plasma calls ref_count). */
export function refCountOf(entry: ObjectEntry): number {
  return entry.holders.size;
}

/** Objects by key, with counts and byte totals per state kept exact on every change. */
export class ObjectTable {
  readonly #entries = new Map<string, ObjectEntry>();
  #createdCount = 0;
  #createdBytes = 0;
  #sealedCount = 0;
  #sealedBytes = 0;

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): ObjectEntry | undefined {
    return this.#entries.get(key);
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  add(entry: ObjectEntry): void {
    if (this.#entries.has(entry.key)) throw new Error("ObjectTable.add: key already present");
    this.#entries.set(entry.key, entry);
    this.#count(entry, 1);
  }

  markSealed(entry: ObjectEntry): void {
    this.#count(entry, -1);
    entry.state = "sealed";
    this.#count(entry, 1);
  }

  remove(entry: ObjectEntry): void {
    if (this.#entries.get(entry.key) !== entry) throw new Error("ObjectTable.remove: entry not present");
    this.#entries.delete(entry.key);
    this.#count(entry, -1);
  }

  values(): IterableIterator<ObjectEntry> {
    return this.#entries.values();
  }

  get createdCount(): number {
    return this.#createdCount;
  }
  get createdBytes(): number {
    return this.#createdBytes;
  }
  get sealedCount(): number {
    return this.#sealedCount;
  }
  get sealedBytes(): number {
    return this.#sealedBytes;
  }

  #count(entry: ObjectEntry, sign: 1 | -1): void {
    const bytes = entry.dataSize + entry.metadataSize;
    if (entry.state === "sealed") {
      this.#sealedCount += sign;
      this.#sealedBytes += sign * bytes;
    } else {
      this.#createdCount += sign;
      this.#createdBytes += sign * bytes;
    }
  }
}
