import type { ObjectLocation } from "../protocol/codecs/index.ts";
import type { DirectoryPin } from "./directory-reads.ts";

/**
 * Objects for which the client remembers references that ended by garbage collection but were never
 * released: up to this many, oldest forgotten first (a few MiB at most).
 */
export const MAX_COLLECTED_OBJECTS = 65_536;

/**
 * This client's references to objects. The store counts one reference per client per object; locally
 * every buffer handed out is one reference, tied to its ArrayBuffer: it ends at release() or when that
 * ArrayBuffer is garbage-collected, whichever comes first. When the last local reference of an object
 * ends, the client gives all its store grants back in one Release frame.
 *
 * A reference that ended by garbage collection is remembered as collected: a later release(id) for it
 * succeeds instead of depending on when the collector ran (Plasma's create/seal/release and
 * get/release pairs stay valid whether or not the buffer was dropped first). Only a release beyond the
 * references the client ever had is an error.
 */
export class Reference {
  released = false;
  constructor(
    readonly holding: Holding,
    /** The live references tied to the same ArrayBuffer as this one (see ReferenceTable.attach). */
    readonly tied: Set<Reference>,
  ) {}
}

export interface Holding {
  readonly key: string;
  readonly id: Uint8Array;
  location: ObjectLocation;
  /** Grants the store has given this client for the object (create, and each get that found it). */
  storeGrants: number;
  /** Local references, oldest first. */
  readonly references: Set<Reference>;
  sealed: boolean;
  /** The creator's writable buffer, until seal turns it into a reference. */
  creatorBuffer: WeakRef<ArrayBuffer> | null;
  /**
   * The pin that holds the object when it was found in the shared directory (instead of, or besides,
   * store grants): dropped with the grants, when the holding is given back.
   */
  pin: DirectoryPin | null;
  /**
   * Its last local reference ended and it waits to give its grants and pin back (see ReferenceTable's
   * idle queue). It stays in the table meanwhile, so a get of it revives it by clearing this flag.
   */
  idle: boolean;
  /** In the idle queue (possibly revived since: takeIdle skips those). */
  queued: boolean;
}

export class ReferenceTable {
  /** Every holding by object key: the live ones and the idle ones (flag `idle`) not given back yet. */
  readonly #holdings = new Map<string, Holding>();
  /** One registration per ArrayBuffer, holding the set of references tied to it. */
  readonly #registry: FinalizationRegistry<Set<Reference>>;
  readonly #tiedTo = new WeakMap<ArrayBuffer, Set<Reference>>();
  /**
   * Holdings whose last local reference ended, with store grants (or a pin) not given back yet. The client
   * gives them back before its next request and at the latest on the next turn of the event loop; until
   * then a get of the same object revives the holding without asking the store (as Plasma's client did),
   * which makes a get+release loop over one object cost no round trip. An idle holding stays in #holdings
   * (flagged), so going idle and being revived move nothing between maps: the queue may keep holdings
   * revived since, which takeIdle skips.
   */
  readonly #idleQueue: Holding[] = [];
  /** Queued holdings that are idle now (what takeIdle will return). */
  #idlePending = 0;
  /** Idle holdings still in #holdings (not replaced by a newer holding of the same key). */
  #idleResident = 0;
  readonly #becameIdle: () => void;
  /** References that ended by garbage collection and were not released yet, per object key. */
  readonly #collected = new Map<string, number>();

  /** `becameIdle` is called when a holding starts waiting to be given back (drain with `takeIdle`). */
  constructor(becameIdle: () => void) {
    this.#becameIdle = becameIdle;
    this.#registry = new FinalizationRegistry((tied) => {
      for (const reference of tied) {
        if (reference.released) continue;
        this.#end(reference);
        this.#rememberCollected(reference.holding.key);
      }
    });
  }

  /** The holdings waiting to give their grants back; the caller sends one Release each. */
  takeIdle(): Holding[] {
    if (this.#idlePending === 0) return [];
    const idle: Holding[] = [];
    for (const holding of this.#idleQueue) {
      holding.queued = false;
      if (!holding.idle) continue;
      holding.idle = false;
      idle.push(holding);
      if (this.#holdings.get(holding.key) === holding) {
        this.#holdings.delete(holding.key);
        this.#idleResident--;
      }
    }
    this.#idleQueue.length = 0;
    this.#idlePending = 0;
    return idle;
  }

  /** Holdings waiting to give their grants back. */
  get idleCount(): number {
    return this.#idlePending;
  }

  /** The live holding of the object (not an idle one). */
  get(key: string): Holding | undefined {
    const holding = this.#holdings.get(key);
    return holding?.idle === true ? undefined : holding;
  }

  /** Objects held (sealed with live references, or being created). */
  get size(): number {
    return this.#holdings.size - this.#idleResident;
  }

  /** A sealed object this client already holds: a further buffer can be served without asking the store. */
  heldSealed(key: string): Holding | undefined {
    const holding = this.#holdings.get(key);
    if (holding === undefined) return undefined;
    if (holding.idle) return this.#revive(holding);
    return holding.sealed && holding.references.size > 0 ? holding : undefined;
  }

  /** Records the creator's grant for a new unsealed object. */
  created(key: string, id: Uint8Array, location: ObjectLocation, buffer: ArrayBuffer): Holding {
    const holding: Holding = {
      key,
      id,
      location,
      storeGrants: 1,
      references: new Set(),
      sealed: false,
      creatorBuffer: new WeakRef(buffer),
      pin: null,
      idle: false,
      queued: false,
    };
    this.#put(holding);
    return holding;
  }

  /** The store granted a reference (a get found the object). */
  granted(key: string, id: Uint8Array, location: ObjectLocation): Holding {
    let holding = this.#holdings.get(key);
    if (holding?.idle === true) this.#revive(holding);
    if (holding === undefined) {
      holding = {
        key,
        id,
        location,
        storeGrants: 0,
        references: new Set(),
        sealed: true,
        creatorBuffer: null,
        pin: null,
        idle: false,
        queued: false,
      };
      this.#put(holding);
    }
    holding.storeGrants++;
    // The store grants only sealed objects (a creator's get can answer before its seal reply arrives).
    holding.sealed = true;
    return holding;
  }

  /** The client pinned the sealed object in the shared directory (no store grant): a holding like granted's. */
  pinned(key: string, id: Uint8Array, location: ObjectLocation, pin: DirectoryPin): Holding {
    const holding: Holding = {
      key,
      id,
      location,
      storeGrants: 0,
      references: new Set(),
      sealed: true,
      creatorBuffer: null,
      pin,
      idle: false,
      queued: false,
    };
    this.#put(holding);
    return holding;
  }

  /**
   * Ties a new local reference to `buffer`. Each ArrayBuffer is registered once, without an unregister
   * token (a token made each registration cost about 1 µs more, a third of a get), with the set of its
   * live references: release() takes a reference out of that set, so a buffer handed out again and again
   * (the arena reuses views) does not pile up registrations.
   */
  attach(holding: Holding, buffer: ArrayBuffer): Reference {
    let tied = this.#tiedTo.get(buffer);
    if (tied === undefined) {
      tied = new Set();
      this.#tiedTo.set(buffer, tied);
      this.#registry.register(buffer, tied);
    }
    const reference = new Reference(holding, tied);
    holding.references.add(reference);
    tied.add(reference);
    return reference;
  }

  /** Seal: the creator's buffer (if still reachable) becomes a reference; if none is, the grant goes back. */
  sealed(key: string): void {
    const holding = this.get(key);
    if (holding === undefined) return;
    holding.sealed = true;
    const buffer = holding.creatorBuffer?.deref();
    holding.creatorBuffer = null;
    if (buffer !== undefined) {
      this.attach(holding, buffer);
      return;
    }
    this.#rememberCollected(key);
    if (holding.references.size === 0) this.#finish(holding);
  }

  /**
   * Seal by a creator that keeps no buffer (put, createAndSeal): the creator's grant goes back to the store
   * whether or not its buffer is still reachable.
   */
  sealedAndDropped(key: string): void {
    const holding = this.get(key);
    if (holding === undefined) return;
    holding.sealed = true;
    holding.creatorBuffer = null;
    if (holding.references.size === 0) this.#finish(holding);
  }

  /** Abort: the store dropped the creator's grant. */
  aborted(key: string): void {
    if (this.get(key) !== undefined) this.#holdings.delete(key);
  }

  /**
   * Ends one reference of the object: a collected one first (its buffer is gone, so it is the one nobody
   * can still be using), else the oldest live one. False if this client has none to end.
   */
  releaseOne(key: string): boolean {
    const collected = this.#collected.size === 0 ? undefined : this.#collected.get(key);
    if (collected !== undefined) {
      if (collected > 1) this.#collected.set(key, collected - 1);
      else this.#collected.delete(key);
      return true;
    }
    const holding = this.get(key);
    if (holding === undefined || !holding.sealed) return false;
    const first = holding.references.values().next();
    if (first.done === true) return false;
    this.#end(first.value);
    return true;
  }

  /**
   * The caller only peeked at a held object: if no local reference remains, give the store's grants back
   * now. A no-op while references remain or once the holding is finished.
   */
  settle(holding: Holding): void {
    if (
      holding.sealed &&
      !holding.idle &&
      holding.references.size === 0 &&
      this.#holdings.get(holding.key) === holding
    ) {
      this.#finish(holding);
    }
  }

  /** Drops everything without telling the store (the connection is gone; the store reclaimed it all). */
  clear(): void {
    for (const holding of this.#holdings.values()) {
      for (const reference of holding.references) reference.released = true;
    }
    this.#holdings.clear();
    for (const holding of this.#idleQueue) holding.queued = false;
    this.#idleQueue.length = 0;
    this.#idlePending = 0;
    this.#idleResident = 0;
    this.#collected.clear();
  }

  #rememberCollected(key: string): void {
    const count = this.#collected.get(key) ?? 0;
    if (count === 0 && this.#collected.size >= MAX_COLLECTED_OBJECTS) {
      const oldest = this.#collected.keys().next();
      if (oldest.done !== true) this.#collected.delete(oldest.value);
    }
    this.#collected.set(key, count + 1);
  }

  #end(reference: Reference): void {
    if (reference.released) return;
    reference.released = true;
    reference.tied.delete(reference);
    const holding = reference.holding;
    holding.references.delete(reference);
    if (holding.references.size === 0 && this.#holdings.get(holding.key) === holding) this.#finish(holding);
  }

  /** `holding` is in #holdings, live, with no local reference left: drop it, or queue it to go back. */
  #finish(holding: Holding): void {
    if (holding.storeGrants === 0 && holding.pin === null) {
      this.#holdings.delete(holding.key);
      return;
    }
    holding.idle = true;
    this.#idleResident++;
    if (!holding.queued) {
      holding.queued = true;
      this.#idleQueue.push(holding);
    }
    if (++this.#idlePending === 1) this.#becameIdle();
  }

  /**
   * The idle holding of `key` when only a directory pin is left of it (no store grants): no longer idle
   * nor held, for the caller to unpin now. Re-pinning through the directory costs less than keeping a pin
   * that stops the store from reusing the object's memory until the next event-loop turn.
   */
  takeIdlePinOnly(key: string): Holding | undefined {
    const holding = this.#holdings.get(key);
    if (holding?.idle !== true || holding.storeGrants !== 0 || holding.pin === null) return undefined;
    holding.idle = false; // its entry in the idle queue is skipped when the queue is drained
    this.#holdings.delete(key);
    this.#idleResident--;
    this.#idlePending--;
    return holding;
  }

  /** An idle holding (still in #holdings) is wanted again before it went back. */
  #revive(holding: Holding): Holding {
    holding.idle = false;
    this.#idleResident--;
    this.#idlePending--;
    return holding;
  }

  /** Adds a new holding, replacing any older one of the key (an idle one stays queued to go back). */
  #put(holding: Holding): void {
    if (this.#holdings.get(holding.key)?.idle === true) this.#idleResident--;
    this.#holdings.set(holding.key, holding);
  }
}
