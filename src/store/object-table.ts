import type { ObjectState } from "../protocol/codecs/index.ts";
import { OBJECT_ID_BYTES } from "../protocol/object-id.ts";
import { assert } from "./assert.ts";
import type { EvictionObjects, LoadedFacts } from "./eviction/objects.ts";
import { grown } from "./grow.ts";
import { OpenAddressingIndex } from "./open-addressing-index.ts";

/**
 * The store's objects, kept as a struct of arrays: every field of every object lives in a typed array
 * indexed by a slot number, slots are reused through a free list, and a key -> slot hash index (the
 * store's OpenAddressingIndex, keys compared against the stored id bytes) finds them. No JS object per
 * resident object: a million objects cost a few typed arrays (about 130 bytes each) instead of a million
 * heap objects, maps and strings, which keeps memory per object small and the garbage collector's work
 * independent of how many objects are resident.
 *
 * ObjectEntry values are views made on demand: a live view reads the current fields of its slot and is
 * valid while its object is in the table (reading it afterwards throws); `remove` returns a detached
 * copy of the fields, which stays readable forever (removal events carry that copy).
 */

/** One object in the store, as read by the server and the admin plane. Changed by the store core only. */
export interface ObjectEntry {
  /** Latin1 string of the 20 id bytes: the table key. */
  readonly key: string;
  /** A fresh copy of the 20 id bytes. */
  readonly id: Uint8Array;
  readonly offset: number;
  readonly dataSize: number;
  readonly metadataSize: number;
  /** Bytes the allocator reserved (rounded up). */
  readonly allocatedBytes: number;
  readonly state: ObjectState;
  readonly creatorClientId: number;
  /** Store references per client id (a fresh map); a client holds one per grant it has not released. */
  readonly holders: ReadonlyMap<number, number>;
  /** Number of clients holding the object (what Plasma calls ref_count). */
  readonly refCount: number;
  /** Epoch ms of create, as Date.now(). */
  readonly createTimeMs: number;
  /** Ms from create to seal; -1 while unsealed. */
  readonly constructDurationMs: number;
  /** Epoch ms of the last create, get or release touching it. */
  readonly lastAccessTimeMs: number;
  readonly accessCount: number;
  /** Order of seal (0 while unsealed), for subscribers and FIFO. */
  readonly sealOrder: number;
  /** delete() was asked while it was in use or unsealed: remove it when the last reference goes. */
  readonly deletePending: boolean;
}

/** Number of clients holding the object (what Plasma calls ref_count). */
export function refCountOf(entry: ObjectEntry): number {
  return entry.refCount;
}

export interface NewObject {
  key: string;
  offset: number;
  dataSize: number;
  metadataSize: number;
  allocatedBytes: number;
  creatorClientId: number;
  /** Epoch ms. */
  createTimeMs: number;
  /** Monotonic ms of create, for the construct duration. */
  createdAtMs: number;
}

const STATE_FREE = 0;
const STATE_CREATED = 1;
const STATE_SEALED = 2;
/** `holder` value of a slot held by two or more clients (their counts live in #shared). */
const SHARED = -1;
const NO_HOLDER = 0;
const INITIAL_SLOTS = 1024;

/** 32-bit hash of the first 20 chars of a key (murmur3-style mixing of 4-char words). */
function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < OBJECT_ID_BYTES; i += 4) {
    h = mixWord(
      h,
      key.charCodeAt(i) |
        (key.charCodeAt(i + 1) << 8) |
        (key.charCodeAt(i + 2) << 16) |
        (key.charCodeAt(i + 3) << 24),
    );
  }
  return finishHash(h);
}

/** hashKey of the key whose bytes are ids[base, base + 20), without making the string. */
function hashIdBytes(ids: Uint8Array, base: number): number {
  let h = 0x811c9dc5;
  for (let i = base; i < base + OBJECT_ID_BYTES; i += 4) {
    h = mixWord(
      h,
      (ids[i] as number) |
        ((ids[i + 1] as number) << 8) |
        ((ids[i + 2] as number) << 16) |
        ((ids[i + 3] as number) << 24),
    );
  }
  return finishHash(h);
}

function mixWord(hash: number, word: number): number {
  let w = word;
  let h = hash;
  w = Math.imul(w, 0xcc9e2d51);
  w = (w << 15) | (w >>> 17);
  h ^= Math.imul(w, 0x1b873593);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finishHash(hash: number): number {
  let h = hash;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function isIdKey(key: string): boolean {
  if (key.length !== OBJECT_ID_BYTES) return false;
  for (let i = 0; i < OBJECT_ID_BYTES; i++) if (key.charCodeAt(i) > 0xff) return false;
  return true;
}

/**
 * Objects by key, with counts and byte totals per state kept exact on every change. Also the owner of
 * the facts the eviction policy orders by (EvictionObjects): the policy reads size, seal order and use
 * count here, at the object's table slot, and keeps only its ordering structure.
 */
export class ObjectTable implements EvictionObjects {
  #capacity = 0;
  #size = 0;
  /** Head of the free slot list (chained through #creator), -1 when empty; #highWater: slots ever used. */
  #freeHead = -1;
  #highWater = 0;
  #ids = new Uint8Array(0);
  #offset = new Float64Array(0);
  #dataSize = new Float64Array(0);
  /** Metadata sizes are u32 on the wire. */
  #metadataSize = new Uint32Array(0);
  /** allocatedBytes - (dataSize + metadataSize): the allocator rounds up by at most one 64 B unit. */
  #padding = new Uint8Array(0);
  #state = new Uint8Array(0);
  #deletePending = new Uint8Array(0);
  #creator = new Int32Array(0);
  /** NO_HOLDER, a client id holding it alone (count in #holdCount), or SHARED. */
  #holder = new Int32Array(0);
  #holdCount = new Uint32Array(0);
  #createTime = new Float64Array(0);
  /** Monotonic create time while unsealed, construct duration once sealed. */
  #construct = new Float64Array(0);
  #lastAccess = new Float64Array(0);
  #accessCount = new Float64Array(0);
  #sealOrder = new Float64Array(0);
  /** Bumped when a slot is freed: a view of an older generation is stale. */
  #generation = new Uint32Array(0);
  /** Counts per client of the slots held by two or more clients. */
  readonly #shared = new Map<number, Map<number, number>>();
  /** Slots by key. */
  readonly #index = new OpenAddressingIndex<string>(
    {
      hashOfValue: (slot) => hashIdBytes(this.#ids, slot * OBJECT_ID_BYTES),
      hasKey: (slot, key) => this.#keyEquals(slot, key),
    },
    INITIAL_SLOTS,
  );
  #createdCount = 0;
  #createdBytes = 0;
  #sealedCount = 0;
  #sealedBytes = 0;

  constructor() {
    this.#grow(INITIAL_SLOTS);
  }

  get size(): number {
    return this.#size;
  }

  /** Slot of the object with this key, -1 if absent. */
  slotOf(key: string): number {
    if (key.length !== OBJECT_ID_BYTES) return -1;
    return this.#index.find(key, hashKey(key));
  }

  /** EvictionObjects: a policy tracks sealed objects of the table, by their slot. */
  track(key: string, sizeBytes: number, loaded?: LoadedFacts): number {
    const slot = this.slotOf(key);
    if (slot < 0 || !this.isSealed(slot)) {
      throw new Error("ObjectTable.track: a policy tracks only sealed objects in the table");
    }
    assert(this.sizeAt(slot) === sizeBytes, "a policy tracks an object with its table size");
    assert(loaded === undefined || loaded.useCount === this.useCountAt(slot), "loaded use count");
    return slot;
  }

  /** EvictionObjects: nothing to do, the slot belongs to the table until the object is removed. */
  untrack(_key: string, _slot: number): void {}

  /** EvictionObjects: dataSize + metadataSize. */
  sizeBytesAt(slot: number): number {
    return this.sizeAt(slot);
  }

  /** EvictionObjects: gets hit only sealed objects, so the uses since seal are accessCount - 1 (the create). */
  useCountAt(slot: number): number {
    return (this.#accessCount[slot] as number) - 1;
  }

  /** EvictionObjects: a get hit the object (accessCount counts it). */
  recordUse(slot: number): void {
    this.#accessCount[slot] = (this.#accessCount[slot] as number) + 1;
  }

  get(key: string): ObjectEntry | undefined {
    const slot = this.slotOf(key);
    return slot < 0 ? undefined : new LiveEntry(this, slot, this.#generation[slot] as number, key);
  }

  has(key: string): boolean {
    return this.slotOf(key) >= 0;
  }

  /** A live view of an occupied slot. */
  entryAt(slot: number, key?: string): ObjectEntry {
    this.#checkSlot(slot);
    return new LiveEntry(this, slot, this.#generation[slot] as number, key ?? this.keyAt(slot));
  }

  /** Adds an unsealed object held once by its creator; returns its slot. Throws if the key is present. */
  add(object: NewObject): number {
    const key = object.key;
    if (!isIdKey(key)) throw new Error(`ObjectTable.add: a key is ${OBJECT_ID_BYTES} latin1 chars`);
    if (this.slotOf(key) >= 0) throw new Error("ObjectTable.add: key already present");
    if (this.#freeHead < 0 && this.#highWater === this.#capacity) this.#grow(this.#capacity * 2);
    let slot: number;
    if (this.#freeHead >= 0) {
      slot = this.#freeHead;
      assert(this.#state[slot] === STATE_FREE, "the free list holds free slots");
      this.#freeHead = this.#creator[slot] as number;
    } else {
      slot = this.#highWater++;
    }
    const base = slot * OBJECT_ID_BYTES;
    for (let i = 0; i < OBJECT_ID_BYTES; i++) this.#ids[base + i] = key.charCodeAt(i);
    this.#offset[slot] = object.offset;
    this.#dataSize[slot] = object.dataSize;
    this.#metadataSize[slot] = object.metadataSize;
    const padding = object.allocatedBytes - object.dataSize - object.metadataSize;
    if (!(padding >= 0 && padding <= 0xff) || object.metadataSize > 0xffffffff) {
      throw new RangeError("ObjectTable.add: metadata over 4 GiB or allocation padding over 255 bytes");
    }
    this.#padding[slot] = padding;
    this.#state[slot] = STATE_CREATED;
    this.#deletePending[slot] = 0;
    this.#creator[slot] = object.creatorClientId;
    this.#holder[slot] = object.creatorClientId;
    this.#holdCount[slot] = 1;
    this.#createTime[slot] = object.createTimeMs;
    this.#construct[slot] = object.createdAtMs;
    this.#lastAccess[slot] = object.createTimeMs;
    this.#accessCount[slot] = 1;
    this.#sealOrder[slot] = 0;
    this.#index.insert(slot);
    this.#size++;
    this.#count(slot, 1);
    assert(this.#size === this.#index.size && this.#size <= this.#highWater, "size matches the index");
    return slot;
  }

  /** Adds a sealed object nobody holds (one restored from its spill file, issue 16); returns its slot. */
  addSealed(object: NewObject, sealOrder: number, nowMs: number): number {
    assert(object.creatorClientId === NO_HOLDER, "a restored object has no creator client");
    const slot = this.add(object);
    this.#holdCount[slot] = 0;
    this.markSealed(slot, sealOrder, nowMs);
    return slot;
  }

  /** Seals an unsealed object at monotonic time `nowMs`. */
  markSealed(slot: number, sealOrder: number, nowMs: number): void {
    this.#checkSlot(slot);
    assert(this.#state[slot] === STATE_CREATED, "only an unsealed object is sealed");
    this.#count(slot, -1);
    this.#state[slot] = STATE_SEALED;
    this.#construct[slot] = nowMs - (this.#construct[slot] as number);
    this.#sealOrder[slot] = sealOrder;
    this.#count(slot, 1);
  }

  /** Removes the object; returns a detached copy of its fields as they were. */
  remove(slot: number): ObjectEntry {
    this.#checkSlot(slot);
    const detached = snapshotOf(this.entryAt(slot));
    this.#count(slot, -1);
    this.#index.remove(slot);
    this.#shared.delete(slot);
    this.#state[slot] = STATE_FREE;
    this.#holder[slot] = NO_HOLDER;
    this.#holdCount[slot] = 0;
    this.#generation[slot] = ((this.#generation[slot] as number) + 1) >>> 0;
    this.#creator[slot] = this.#freeHead;
    this.#freeHead = slot;
    this.#size--;
    assert(this.#size === this.#index.size, "size matches the index");
    return detached;
  }

  /** Live views of every object, in slot order. */
  *values(): Generator<ObjectEntry, void, undefined> {
    for (const slot of this.slots()) yield this.entryAt(slot);
  }

  /** Occupied slots in ascending order (a snapshot: safe to change the table while iterating). */
  slots(): number[] {
    const slots: number[] = [];
    for (let slot = 0; slot < this.#highWater; slot++) if (this.#state[slot] !== STATE_FREE) slots.push(slot);
    return slots;
  }

  // -------------------------------------------------------------- per-slot fields

  isLive(slot: number, generation: number): boolean {
    return this.#generation[slot] === generation && this.#state[slot] !== STATE_FREE;
  }
  keyAt(slot: number): string {
    const base = slot * OBJECT_ID_BYTES;
    return String.fromCharCode.apply(
      null,
      this.#ids.subarray(base, base + OBJECT_ID_BYTES) as unknown as number[],
    );
  }
  idAt(slot: number): Uint8Array {
    const base = slot * OBJECT_ID_BYTES;
    return this.#ids.slice(base, base + OBJECT_ID_BYTES);
  }
  stateAt(slot: number): ObjectState {
    return this.#state[slot] === STATE_SEALED ? "sealed" : "created";
  }
  isSealed(slot: number): boolean {
    return this.#state[slot] === STATE_SEALED;
  }
  offsetAt(slot: number): number {
    return this.#offset[slot] as number;
  }
  dataSizeAt(slot: number): number {
    return this.#dataSize[slot] as number;
  }
  metadataSizeAt(slot: number): number {
    return this.#metadataSize[slot] as number;
  }
  /** dataSize + metadataSize. */
  sizeAt(slot: number): number {
    return (this.#dataSize[slot] as number) + (this.#metadataSize[slot] as number);
  }
  allocatedBytesAt(slot: number): number {
    return this.sizeAt(slot) + (this.#padding[slot] as number);
  }
  creatorAt(slot: number): number {
    return this.#creator[slot] as number;
  }
  createTimeAt(slot: number): number {
    return this.#createTime[slot] as number;
  }
  constructDurationAt(slot: number): number {
    return this.#state[slot] === STATE_SEALED ? (this.#construct[slot] as number) : -1;
  }
  lastAccessAt(slot: number): number {
    return this.#lastAccess[slot] as number;
  }
  accessCountAt(slot: number): number {
    return this.#accessCount[slot] as number;
  }
  sealOrderAt(slot: number): number {
    return this.#sealOrder[slot] as number;
  }
  deletePendingAt(slot: number): boolean {
    return this.#deletePending[slot] === 1;
  }
  markDeletePending(slot: number): void {
    this.#deletePending[slot] = 1;
  }
  /** A get or release touched the object at epoch ms `now` (the get's use is counted by recordUse). */
  touch(slot: number, now: number): void {
    this.#lastAccess[slot] = now;
  }

  // -------------------------------------------------------------- holders

  /** Store references this client holds to the object. */
  holdCount(slot: number, clientId: number): number {
    const holder = this.#holder[slot] as number;
    if (holder === clientId) return this.#holdCount[slot] as number;
    if (holder !== SHARED) return 0;
    return this.#shared.get(slot)?.get(clientId) ?? 0;
  }

  /** Number of clients holding the object. */
  refCount(slot: number): number {
    const holder = this.#holder[slot] as number;
    if (holder === NO_HOLDER) return 0;
    if (holder !== SHARED) return 1;
    return this.#shared.get(slot)?.size ?? 0;
  }

  /** Sets this client's reference count (0 drops it as a holder). */
  setHoldCount(slot: number, clientId: number, count: number): void {
    assert(clientId > 0 && Number.isSafeInteger(count) && count >= 0, "client id and count");
    this.#changeHolders(slot, clientId, count);
    const holder = this.#holder[slot] as number;
    assert(
      holder === SHARED
        ? (this.#shared.get(slot)?.size ?? 0) >= 2
        : (holder === NO_HOLDER) === (this.#holdCount[slot] === 0),
      "one holder with its count, or two or more in the shared map",
    );
  }

  #changeHolders(slot: number, clientId: number, count: number): void {
    const holder = this.#holder[slot] as number;
    if (holder === SHARED) {
      const counts = this.#shared.get(slot);
      assert(counts !== undefined, "shared slot has counts");
      if (count > 0) counts.set(clientId, count);
      else counts.delete(clientId);
      if (counts.size === 1) {
        const [only, onlyCount] = counts.entries().next().value as [number, number];
        this.#shared.delete(slot);
        this.#holder[slot] = only;
        this.#holdCount[slot] = onlyCount;
      }
      return;
    }
    if (holder === NO_HOLDER || holder === clientId) {
      this.#holder[slot] = count > 0 ? clientId : NO_HOLDER;
      this.#holdCount[slot] = count;
      return;
    }
    if (count === 0) return;
    this.#shared.set(
      slot,
      new Map([
        [holder, this.#holdCount[slot] as number],
        [clientId, count],
      ]),
    );
    this.#holder[slot] = SHARED;
    this.#holdCount[slot] = 0;
  }

  /** Client ids holding the object. */
  holderIds(slot: number): number[] {
    const holder = this.#holder[slot] as number;
    if (holder === NO_HOLDER) return [];
    if (holder !== SHARED) return [holder];
    return [...(this.#shared.get(slot)?.keys() ?? [])];
  }

  holdersAt(slot: number): Map<number, number> {
    const holder = this.#holder[slot] as number;
    if (holder === NO_HOLDER) return new Map();
    if (holder !== SHARED) return new Map([[holder, this.#holdCount[slot] as number]]);
    return new Map(this.#shared.get(slot));
  }

  // -------------------------------------------------------------- totals

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

  /** Throws if the index, the free list or the totals disagree with the slots. O(capacity). */
  checkInvariants(): void {
    let live = 0;
    let created = [0, 0];
    let sealed = [0, 0];
    for (let slot = 0; slot < this.#highWater; slot++) {
      const state = this.#state[slot];
      if (state === STATE_FREE) continue;
      live++;
      const bytes = this.sizeAt(slot);
      if (state === STATE_SEALED) sealed = [(sealed[0] as number) + 1, (sealed[1] as number) + bytes];
      else created = [(created[0] as number) + 1, (created[1] as number) + bytes];
      assert(this.slotOf(this.keyAt(slot)) === slot, `slot ${slot} is found by its key`);
      const holder = this.#holder[slot] as number;
      if (holder === SHARED) {
        const counts = this.#shared.get(slot);
        assert(counts !== undefined && counts.size >= 2, `shared slot ${slot} has two or more holders`);
        for (const count of counts.values()) assert(count > 0, "shared counts are positive");
      } else {
        assert(!this.#shared.has(slot), `slot ${slot} is not shared`);
        assert((holder === NO_HOLDER) === (this.#holdCount[slot] === 0), `slot ${slot} hold count`);
      }
    }
    assert(live === this.#size, `size ${this.#size} matches ${live} occupied slots`);
    let free = 0;
    for (let slot = this.#freeHead; slot >= 0; slot = this.#creator[slot] as number) {
      assert(this.#state[slot] === STATE_FREE && free <= this.#highWater, "free list holds free slots");
      free++;
    }
    assert(free + live === this.#highWater, "every slot is occupied or on the free list");
    this.#index.checkInvariants();
    assert(this.#index.size === this.#size, "the hash index holds every object once");
    assert(
      created[0] === this.#createdCount &&
        created[1] === this.#createdBytes &&
        sealed[0] === this.#sealedCount &&
        sealed[1] === this.#sealedBytes,
      "counts and bytes per state",
    );
  }

  // -------------------------------------------------------------- internals

  #checkSlot(slot: number): void {
    if (!(slot >= 0 && slot < this.#highWater) || this.#state[slot] === STATE_FREE) {
      throw new Error(`ObjectTable: slot ${slot} holds no object`);
    }
  }

  #keyEquals(slot: number, key: string): boolean {
    const ids = this.#ids;
    const base = slot * OBJECT_ID_BYTES;
    for (let i = 0; i < OBJECT_ID_BYTES; i++) if (ids[base + i] !== key.charCodeAt(i)) return false;
    return true;
  }

  #grow(capacity: number): void {
    this.#ids = grown(this.#ids, capacity * OBJECT_ID_BYTES);
    this.#offset = grown(this.#offset, capacity);
    this.#dataSize = grown(this.#dataSize, capacity);
    this.#metadataSize = grown(this.#metadataSize, capacity);
    this.#padding = grown(this.#padding, capacity);
    this.#state = grown(this.#state, capacity);
    this.#deletePending = grown(this.#deletePending, capacity);
    this.#creator = grown(this.#creator, capacity);
    this.#holder = grown(this.#holder, capacity);
    this.#holdCount = grown(this.#holdCount, capacity);
    this.#createTime = grown(this.#createTime, capacity);
    this.#construct = grown(this.#construct, capacity);
    this.#lastAccess = grown(this.#lastAccess, capacity);
    this.#accessCount = grown(this.#accessCount, capacity);
    this.#sealOrder = grown(this.#sealOrder, capacity);
    this.#generation = grown(this.#generation, capacity);
    this.#capacity = capacity;
  }

  #count(slot: number, sign: 1 | -1): void {
    const bytes = this.sizeAt(slot);
    if (this.#state[slot] === STATE_SEALED) {
      this.#sealedCount += sign;
      this.#sealedBytes += sign * bytes;
    } else {
      this.#createdCount += sign;
      this.#createdBytes += sign * bytes;
    }
    assert(
      Math.min(this.#sealedCount, this.#sealedBytes, this.#createdCount, this.#createdBytes) >= 0,
      "counts and bytes per state are non-negative",
    );
  }
}

/** A view of one slot: reads the table's current fields while its object is in the table. */
class LiveEntry implements ObjectEntry {
  readonly #table: ObjectTable;
  readonly slot: number;
  readonly #generation: number;
  readonly key: string;

  constructor(table: ObjectTable, slot: number, generation: number, key: string) {
    this.#table = table;
    this.slot = slot;
    this.#generation = generation;
    this.key = key;
  }

  #at(): number {
    if (!this.#table.isLive(this.slot, this.#generation)) {
      throw new Error(
        "This object entry was read after its object left the store; copy the fields you need before it is removed.",
      );
    }
    return this.slot;
  }

  get id(): Uint8Array {
    return this.#table.idAt(this.#at());
  }
  get offset(): number {
    return this.#table.offsetAt(this.#at());
  }
  get dataSize(): number {
    return this.#table.dataSizeAt(this.#at());
  }
  get metadataSize(): number {
    return this.#table.metadataSizeAt(this.#at());
  }
  get allocatedBytes(): number {
    return this.#table.allocatedBytesAt(this.#at());
  }
  get state(): ObjectState {
    return this.#table.stateAt(this.#at());
  }
  get creatorClientId(): number {
    return this.#table.creatorAt(this.#at());
  }
  get holders(): ReadonlyMap<number, number> {
    return this.#table.holdersAt(this.#at());
  }
  get refCount(): number {
    return this.#table.refCount(this.#at());
  }
  get createTimeMs(): number {
    return this.#table.createTimeAt(this.#at());
  }
  get constructDurationMs(): number {
    return this.#table.constructDurationAt(this.#at());
  }
  get lastAccessTimeMs(): number {
    return this.#table.lastAccessAt(this.#at());
  }
  get accessCount(): number {
    return this.#table.accessCountAt(this.#at());
  }
  get sealOrder(): number {
    return this.#table.sealOrderAt(this.#at());
  }
  get deletePending(): boolean {
    return this.#table.deletePendingAt(this.#at());
  }
}

/** A frozen copy of `entry` (a live entry's fields as they are now); `changes` replace some of them. */
export function snapshotOf(entry: ObjectEntry, changes: Partial<ObjectEntry> = {}): ObjectEntry {
  return Object.freeze({
    key: entry.key,
    id: entry.id,
    offset: entry.offset,
    dataSize: entry.dataSize,
    metadataSize: entry.metadataSize,
    allocatedBytes: entry.allocatedBytes,
    state: entry.state,
    creatorClientId: entry.creatorClientId,
    holders: entry.holders,
    refCount: entry.refCount,
    createTimeMs: entry.createTimeMs,
    constructDurationMs: entry.constructDurationMs,
    lastAccessTimeMs: entry.lastAccessTimeMs,
    accessCount: entry.accessCount,
    sealOrder: entry.sealOrder,
    deletePending: entry.deletePending,
    ...changes,
  });
}
