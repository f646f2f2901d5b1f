/**
 * The store core's side of the shared-memory directory (docs/shared-directory.md): what it publishes, which
 * objects clients have pinned, and which removals wait for pins to go. Pure: the edge maps the regions and
 * hands in typed-array views (the directory, writable; one pin table per client, untrusted); nothing here
 * does I/O.
 *
 * Invariant I2 lives here: `retire` marks the entry REMOVING and only then scans the pins; the core frees
 * or reuses an object's memory only after `retire` said true or `reclaim` reported its key.
 */
import {
  collectPins,
  DirectoryWriter,
  drainAccesses,
  isPinned,
  type PinTableView,
  type RemovalTicket,
} from "../protocol/shared-directory/index.ts";
import { type ObjectEntry, snapshotOf } from "./object-table.ts";

interface ClientTable {
  readonly view: PinTableView;
  /** ACCESS_HEAD as last drained. */
  cursor: number;
}

export class SharedReads {
  readonly #writer: DirectoryWriter;
  readonly #tables = new Map<number, ClientTable>();
  /** Every table's view, in one array for the scans (rebuilt when a table comes or goes). */
  #views: PinTableView[] = [];
  /** Published (SEALED) entries by object key. */
  readonly #indexOf = new Map<string, number>();
  /** The object key of every SEALED or REMOVING entry, by entry index. */
  readonly #keyAt = new Map<number, string>();
  /** Objects marked REMOVING while pinned: their memory waits for `reclaim`. */
  readonly #retiring = new Map<string, RemovalTicket>();

  /** Initialise `region` (zero-filled, writable) as a directory of `capacity` entries. */
  constructor(region: ArrayBuffer, capacity: number, generation: number) {
    this.#writer = DirectoryWriter.create(region, capacity, generation);
  }

  get capacity(): number {
    return this.#writer.capacity;
  }

  /** Objects published and sealed in the directory now. */
  get publishedCount(): number {
    return this.#indexOf.size;
  }

  /** Objects whose memory waits for pins to go. */
  get retiringCount(): number {
    return this.#retiring.size;
  }

  get tableCount(): number {
    return this.#tables.size;
  }

  // ---------------------------------------------------------------- pin tables

  addTable(clientId: number, view: PinTableView): void {
    this.#tables.set(clientId, { view, cursor: 0 });
    this.#views = [...this.#tables.values()].map((t) => t.view);
  }

  /** The client is gone: its pins die with it (invariant I3). Call `reclaim` after. */
  dropTable(clientId: number): boolean {
    if (!this.#tables.delete(clientId)) return false;
    this.#views = [...this.#tables.values()].map((t) => t.view);
    return true;
  }

  // ---------------------------------------------------------------- publish / retire

  /** At seal: make the object findable by clients. Returns false when the directory is full (socket only). */
  publish(key: string, id: Uint8Array, offset: number, dataSize: number, metadataSize: number): boolean {
    if (this.#indexOf.has(key) || this.#retiring.has(key)) return false;
    const index = this.#writer.publish(id, offset, dataSize, metadataSize);
    if (index < 0) return false;
    this.#indexOf.set(key, index);
    this.#keyAt.set(index, key);
    return true;
  }

  /**
   * Before the object's memory is freed or reused: true when no client can be using it through the
   * directory (never published, or marked and no pin names it: the entry is a tombstone now). False when
   * pinned: the entry stays REMOVING (no new pins) and `reclaim` reports the key once the pins are gone.
   */
  retire(key: string): boolean {
    if (this.#retiring.has(key)) return false;
    const index = this.#indexOf.get(key);
    if (index === undefined) return true;
    this.#indexOf.delete(key);
    const ticket = this.#writer.beginRemove(index);
    if (isPinned(this.#views, index, ticket.sealedVersion)) {
      this.#retiring.set(key, ticket);
      return false;
    }
    this.#finish(ticket);
    return true;
  }

  /** Whether the object waits in `retire` for its pins to go. */
  isRetiring(key: string): boolean {
    return this.#retiring.has(key);
  }

  /** Whether the object is published now (sealed in the directory). */
  isPublished(key: string): boolean {
    return this.#indexOf.has(key);
  }

  /** One scan of every table; returns the keys of retiring objects no pin names any more (now tombstones). */
  reclaim(): string[] {
    if (this.#retiring.size === 0) return [];
    const pins = collectPins(this.#views, this.#writer.capacity);
    const freed: string[] = [];
    for (const [key, ticket] of this.#retiring) {
      if (pins.get(ticket.index, ticket.sealedVersion) > 0) continue;
      this.#retiring.delete(key);
      this.#finish(ticket);
      freed.push(key);
    }
    return freed;
  }

  #finish(ticket: RemovalTicket): void {
    this.#writer.finishRemove(ticket);
    this.#keyAt.delete(ticket.index);
  }

  // ---------------------------------------------------------------- accesses and holders

  /**
   * Visit the objects clients used through the directory since the last drain (at most each table's ring
   * size per table; the index of an entry reused meanwhile names its new object: approximate by design).
   */
  drainAccesses(visit: (key: string) => void): void {
    const capacity = this.#writer.capacity;
    for (const table of this.#tables.values()) {
      table.cursor = drainAccesses(table.view, table.cursor, capacity, (index) => {
        this.#writer.recordUse(index);
        const key = this.#keyAt.get(index);
        if (key !== undefined) visit(key);
      });
    }
    this.#writer.tickUseClock();
  }

  /**
   * The clients pinning each object now (one scan of every table). Only pins naming the entry's current
   * publication count: a pin on an old version, or garbage, names nothing.
   */
  pinHolders(): Map<string, Set<number>> {
    const holders = new Map<string, Set<number>>();
    const capacity = this.#writer.capacity;
    for (const [clientId, table] of this.#tables) {
      for (const { index, version } of collectPins([table.view], capacity).entries()) {
        const key = this.#keyAt.get(index);
        if (key === undefined || !this.#names(key, index, version)) continue;
        const clients = holders.get(key);
        if (clients === undefined) holders.set(key, new Set([clientId]));
        else clients.add(clientId);
      }
    }
    return holders;
  }

  #names(key: string, index: number, version: number): boolean {
    const ticket = this.#retiring.get(key);
    if (ticket !== undefined) return ticket.index === index && ticket.sealedVersion === version;
    return this.#indexOf.get(key) === index && this.#writer.versionOf(index) === version;
  }
}

/**
 * A snapshot of `entry` whose holders also count the clients pinning it through the directory (one
 * reference each, on top of their store references): what list() and the admin plane show.
 */
export function withPinHolders(entry: ObjectEntry, pinningClients: ReadonlySet<number>): ObjectEntry {
  const holders = new Map(entry.holders);
  for (const clientId of pinningClients) holders.set(clientId, (holders.get(clientId) ?? 0) + 1);
  return snapshotOf(entry, { holders, refCount: holders.size });
}
