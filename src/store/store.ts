import { type NotificationWire, U8_BYTES, U32_BYTES } from "../protocol/codecs/index.ts";
import {
  LimitExceededError,
  ObjectAlreadySealedError,
  ObjectExistsError,
  ObjectNotFoundError,
  ObjectNotSealedError,
  PlasmaError,
  StoreFullError,
} from "../protocol/errors.ts";
import { MAX_FRAME_BODY_BYTES } from "../protocol/limits.ts";
import type { PinTableView } from "../protocol/shared-directory/index.ts";
import { Allocator } from "./allocator.ts";
import { assert } from "./assert.ts";
import { type Clock, systemClock } from "./clock.ts";
import {
  createEvictionPolicy,
  type EvictionPolicy,
  type EvictionPolicyName,
  migratePolicy,
} from "./eviction/policy.ts";
import { defaultLimits, type StoreLimits, WAITING_CREATE_BYTES, WAITING_ID_BYTES } from "./limits.ts";
import { type MissingObjectSource, SourceFetches } from "./object-sources.ts";
import { type ObjectEntry, ObjectTable } from "./object-table.ts";
import { type SharedReads, withPinHolders } from "./pins.ts";
import { type SpillDropReason, SpillIndex } from "./spill-index.ts";
import {
  SPILL_FILE_OVERHEAD_BYTES,
  type SpilledObject,
  type SpillOutcome,
  type SpillSink,
  type SpillStats,
  spilledEntryOf,
} from "./spill-sink.ts";
import { type StoreCounters, type StoreStats, zeroCounters } from "./stats.ts";
import { GetWaiter, WaiterRegistry } from "./waiters.ts";

/**
 * The pure core of the store: objects, references, eviction, blocked gets and waiting creates. No I/O:
 * the server decodes frames and calls these methods; the admin plane reads and steers it. Every public
 * method either completes or throws a typed PlasmaError and leaves the state consistent.
 */

export interface StoreCoreOptions {
  capacityBytes: number;
  evictionPolicy?: EvictionPolicyName;
  limits?: Partial<StoreLimits>;
  clock?: Clock;
  /** Spilling on (issue 16): the disk budget; the edge attaches its SpillSink with attachSpillSink. */
  spill?: SpillOptions;
  /** The shared-memory directory clients read sealed objects from (docs/shared-directory.md); none if absent. */
  sharedReads?: SharedReads;
}

export interface SpillOptions {
  budgetBytes: number;
  /** After a failed spill write, victims are dropped for this long before spilling is tried again (default 5000). */
  pauseAfterFailureMs?: number;
}

const DEFAULT_SPILL_PAUSE_MS = 5000;
/** A get whose spilled objects do not all fit in memory at once gives up after this many restore rounds. */
const MAX_RESTORE_ROUNDS = 3;

type RestoreWaiter = (error: PlasmaError | null) => void;

export interface ClientInfo {
  pid: number;
  uid: number;
  gid: number;
}

/** A client as the edges see it: a snapshot, made when asked for. */
export interface ClientStatus extends ClientInfo {
  readonly id: number;
  /** Epoch ms of connect, as Date.now(). */
  readonly connectTimeMs: number;
  /** Objects this client holds store references to (one per object, however many references). */
  readonly objectsHeld: number;
  /** Unsealed objects this client created. */
  readonly objectsCreating: number;
  readonly waitingGets: number;
  readonly waitingCreates: number;
  /** Bytes of data and metadata of every object this client created, since it connected. */
  readonly bytesCreated: number;
}

/** The core's own record of a client; never handed out (edges get ClientStatus). */
interface ClientSession extends ClientInfo {
  readonly id: number;
  readonly connectTimeMs: number;
  /** Keys of objects this client holds store references to. */
  readonly held: Set<string>;
  /** Keys of unsealed objects this client created. */
  readonly creating: Set<string>;
  readonly waiters: Set<GetWaiter>;
  readonly pendingCreates: Set<PendingCreate>;
  subscriber: ((notes: NotificationWire[]) => void) | null;
  bytesCreated: number;
  /** Estimated store memory of its blocked gets and waiting creates (see --max-client-memory). */
  waitingBytes: number;
}

export interface CreateSpec {
  id: Uint8Array;
  key: string;
  dataSize: number;
  metadataSize: number;
}

interface PendingCreate {
  readonly clientId: number;
  readonly spec: CreateSpec;
  readonly done: (result: ObjectEntry | PlasmaError) => void;
  timer: unknown;
  /** What it counts against its client's waiting budget. */
  readonly costBytes: number;
  /** A waitMs 0 create (or a restore) waiting only for spills in flight: it fails once none is left. */
  readonly untilSpillsSettle: boolean;
  /** Set for the restore of a spilled object (clientId 0): it needs a block, not an entry. */
  readonly restore: SpilledObject | null;
}

export type StoreEvent =
  | {
      kind:
        | "object_created"
        | "object_sealed"
        | "object_aborted"
        | "object_deleted"
        | "object_evicted"
        | "object_spilled"
        | "object_restored";
      entry: ObjectEntry;
    }
  | { kind: "spill_dropped"; entry: ObjectEntry; reason: SpillDropReason; startsEpisode: boolean }
  | { kind: "spill_failed"; entry: ObjectEntry; error: PlasmaError }
  | { kind: "client_connected" | "client_disconnected"; client: ClientStatus }
  | { kind: "policy_changed"; from: EvictionPolicyName; to: EvictionPolicyName };

export type StoreEventListener = (event: StoreEvent) => void;

/** Result of a get: the entry for every found object (a reference was granted), null for the rest. */
export type GetResult = (ObjectEntry | null)[];

export class StoreCore {
  readonly capacityBytes: number;
  readonly limits: Readonly<StoreLimits>;
  readonly #counters: StoreCounters = zeroCounters();
  readonly #allocator: Allocator;
  readonly #objects = new ObjectTable();
  readonly #clients = new Map<number, ClientSession>();
  readonly #waiters = new WaiterRegistry();
  readonly #createQueue: PendingCreate[] = [];
  readonly #listeners = new Set<StoreEventListener>();
  readonly #clock: Clock;
  readonly #fetches = new SourceFetches();
  /** Keys of objects a source made local (pulled copies), oldest first: evicted before anything else. */
  readonly #sourceCopies = new Set<string>();
  /** The core's own client (never connected): creates and holds objects for MissingObjectSources. */
  readonly #system: ClientSession;
  #policy: EvictionPolicy;
  #nextClientId = 1;
  #nextSealOrder = 1;
  // Spilling (issue 16): null index when off.
  readonly #spill: SpillIndex<RestoreWaiter> | null;
  readonly #spilled = new Map<string, SpilledObject>();
  /** Sealed objects whose file is being written (pinned in memory), with their data + metadata bytes. */
  readonly #spilling = new Map<string, number>();
  #spillingBytes = 0;
  /** Blocks allocated for restores in flight, by key. */
  readonly #restoring = new Map<string, number>();
  readonly #deleteAfterRestore = new Set<string>();
  #spillSink: SpillSink | null = null;
  #spillPausedUntilMs = Number.NEGATIVE_INFINITY;
  #spillPauseReason: "disk-full" | "io-error" = "io-error";
  readonly #spillPauseMs: number;
  readonly #spillFigures = {
    spills: 0,
    spillBytesTotal: 0,
    spillSecondsTotal: 0,
    restores: 0,
    restoreBytesTotal: 0,
    restoreSecondsTotal: 0,
    restoreFailures: 0,
    spilledDeletes: 0,
  };
  readonly #shared: SharedReads | null;

  constructor(options: StoreCoreOptions) {
    if (!Number.isSafeInteger(options.capacityBytes) || options.capacityBytes <= 0) {
      throw new RangeError(
        `Store capacity must be a positive integer number of bytes, got ${options.capacityBytes}.`,
      );
    }
    this.capacityBytes = options.capacityBytes;
    this.limits = { ...defaultLimits(options.capacityBytes), ...options.limits };
    this.#allocator = new Allocator(options.capacityBytes);
    this.#policy = createEvictionPolicy(options.evictionPolicy ?? "lru", [], this.#objects);
    this.#clock = options.clock ?? systemClock;
    this.#system = systemSession(this.#clock.now());
    this.#spill = options.spill === undefined ? null : new SpillIndex(options.spill.budgetBytes);
    this.#spillPauseMs = options.spill?.pauseAfterFailureMs ?? DEFAULT_SPILL_PAUSE_MS;
    this.#shared = options.sharedReads ?? null;
  }

  // ------------------------------------------------------------------ observation

  /** Counters since start (a live read-only view: it changes as the store works). */
  get counters(): Readonly<StoreCounters> {
    this.#drainDirectoryUses();
    return this.#counters;
  }

  /** Memory, objects, eviction and clients now, as a fresh snapshot. */
  stats(): StoreStats {
    this.#drainDirectoryUses();
    const allocator = this.#allocator;
    const table = this.#objects;
    const pinned = this.#pinnedEvictable();
    return {
      capacityBytes: this.capacityBytes,
      usedBytes: allocator.usedBytes,
      freeBytes: allocator.freeBytes,
      largestFreeBlockBytes: allocator.largestFreeBlockBytes,
      objectCount: table.size,
      createdCount: table.createdCount,
      createdBytes: table.createdBytes,
      sealedCount: table.sealedCount,
      sealedBytes: table.sealedBytes,
      evictableCount: this.#policy.evictableCount - pinned.count,
      evictableBytes: this.#policy.evictableBytes - pinned.bytes,
      evictionPolicy: this.#policy.name,
      clientCount: this.#clients.size,
      waitingGetCount: this.#waiters.size,
      waitingCreateCount: this.#createQueue.length,
    };
  }

  /** The eviction policy in use (stats() has it too; this one costs no snapshot). */
  get evictionPolicy(): EvictionPolicyName {
    return this.#policy.name;
  }

  /** The object's entry (a live read-only view), or undefined if it is not in the store. */
  entry(key: string): ObjectEntry | undefined {
    const entry = this.#objects.get(key);
    const pinning = entry === undefined ? undefined : this.#shared?.pinHolders().get(key);
    return pinning === undefined || entry === undefined ? entry : withPinHolders(entry, pinning);
  }

  /** Every object (live views; snapshots for objects clients pin through the directory), in slot order. */
  list(): ObjectEntry[] {
    this.#drainDirectoryUses();
    const pins = this.#shared?.pinHolders();
    const entries = [...this.#objects.values()];
    const listed =
      pins === undefined || pins.size === 0
        ? entries
        : entries.map((e) => {
            const pinning = pins.get(e.key);
            return pinning === undefined ? e : withPinHolders(e, pinning);
          });
    for (const object of this.#spilled.values()) listed.push(spilledEntryOf(object));
    return listed;
  }

  /** A snapshot of the client, or undefined if it is not connected. */
  client(clientId: number): ClientStatus | undefined {
    const session = this.#clients.get(clientId);
    return session === undefined ? undefined : statusOf(session, this.#pinnedByClient());
  }

  /** Snapshots of every connected client, in connect order. */
  clientStatuses(): ClientStatus[] {
    const pinned = this.#pinnedByClient();
    return [...this.#clients.values()].map((session) => statusOf(session, pinned));
  }

  get waitingGetCount(): number {
    return this.#waiters.size;
  }
  get waitingCreateCount(): number {
    return this.#createQueue.length;
  }

  onEvent(listener: StoreEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // ------------------------------------------------------------------ clients

  /**
   * An id for a connection that is yet to say Hello (the edge tells the peer its id before that); takes no
   * client slot. Throws LimitExceededError if every slot is taken already.
   */
  reserveClientId(): number {
    this.#checkClientSlot();
    return this.#nextClientId++;
  }

  /** Registers a client (with an id from reserveClientId, or a new one); throws if the store is full. */
  connectClient(info: ClientInfo, reservedId?: number): ClientStatus {
    this.#checkClientSlot();
    if (reservedId !== undefined && (reservedId >= this.#nextClientId || this.#clients.has(reservedId))) {
      throw new PlasmaError(`Client id ${reservedId} was not reserved or is in use.`);
    }
    const session = newSession(info, reservedId ?? this.#nextClientId++, this.#clock.now());
    this.#clients.set(session.id, session);
    const status = statusOf(session);
    this.#emit({ kind: "client_connected", client: status });
    return status;
  }

  #checkClientSlot(): void {
    if (this.#clients.size >= this.limits.maxClients) {
      throw new LimitExceededError(
        `The store already serves ${this.#clients.size} clients, its limit (--max-clients ${this.limits.maxClients}); try again later or raise the limit.`,
      );
    }
  }

  /** Releases everything the client held, aborts its unsealed objects, drops its blocked gets. */
  disconnectClient(clientId: number): void {
    const client = this.#clients.get(clientId);
    if (client === undefined) return;
    // Its pins die with it (docs/shared-directory.md I3): nothing it holds waits for them below.
    const pinned = this.#shared?.dropTable(clientId) === true;
    for (const waiter of client.waiters) this.#dropWaiter(waiter);
    client.waiters.clear();
    for (const pending of client.pendingCreates) this.#dropPendingCreate(pending);
    client.pendingCreates.clear();
    client.subscriber = null;
    for (const key of [...client.creating]) {
      const slot = this.#objects.slotOf(key);
      if (slot >= 0) this.#abortEntry(client, slot, key);
    }
    for (const key of [...client.held]) {
      const slot = this.#objects.slotOf(key);
      if (slot >= 0) this.#releaseAll(client, slot, key);
    }
    assert(client.held.size === 0 && client.creating.size === 0, "a leaving client holds nothing");
    this.#clients.delete(clientId);
    if (pinned) this.reclaimPins();
    this.#emit({ kind: "client_disconnected", client: statusOf(client) });
    this.#serveCreateQueue();
  }

  // ------------------------------------------------------------------ directory reads (pins.ts)

  /** The client's pin table (the edge created and mapped it); its pins count from now until it leaves. */
  attachPinTable(clientId: number, view: PinTableView): void {
    this.#client(clientId);
    this.#shared?.addTable(clientId, view);
  }

  /**
   * Frees or republishes the objects whose removal waited for directory pins that are gone now; the edge
   * calls it when a client says it unpinned such an object, and on a timer while `retiringCount` > 0.
   * Returns how many objects stopped waiting.
   */
  reclaimPins(): number {
    const shared = this.#shared;
    if (shared === null) return 0;
    this.#drainDirectoryUses();
    const keys = shared.reclaim();
    const table = this.#objects;
    for (const key of keys) {
      const slot = table.slotOf(key);
      assert(slot >= 0 && table.isSealed(slot), "a retiring object stays in the table, sealed");
      if (table.deletePendingAt(slot)) {
        if (table.refCount(slot) === 0) this.#removeEntry(slot, key, "object_deleted");
        continue;
      }
      if (table.refCount(slot) === 0) this.#policy.accessEnded(key);
      const e = table.entryAt(slot, key);
      shared.publish(key, e.id, e.offset, e.dataSize, e.metadataSize);
    }
    if (keys.length > 0) this.#serveCreateQueue();
    return keys.length;
  }

  /** Objects whose memory waits for directory pins to go (see reclaimPins). */
  get retiringCount(): number {
    return this.#shared?.retiringCount ?? 0;
  }

  /**
   * Whether a sealed, unreferenced object's memory may be reused now. False while a client pins it
   * through the directory: it then stays, not evictable, until reclaimPins reports its pins gone.
   */
  #mayFree(key: string): boolean {
    const shared = this.#shared;
    if (shared === null) return true;
    if (shared.isRetiring(key)) return false;
    if (shared.retire(key)) return true;
    this.#policy.accessBegan(key);
    return false;
  }

  /** Counts what clients read through the directory as get hits and uses (for LRU/LFU): approximate. */
  #drainDirectoryUses(): void {
    const shared = this.#shared;
    if (shared === null || shared.tableCount === 0) return;
    const table = this.#objects;
    const now = this.#clock.now();
    shared.drainAccesses((key) => {
      const slot = table.slotOf(key);
      if (slot < 0 || !table.isSealed(slot)) return;
      this.#counters.getHits++;
      this.#policy.accessBegan(key);
      table.touch(slot, now);
      if (table.refCount(slot) === 0 && !shared.isRetiring(key)) this.#policy.accessEnded(key);
    });
  }

  /** Objects the policy counts as evictable that clients pin through the directory (held, as referenced). */
  #pinnedEvictable(): { count: number; bytes: number } {
    const pinned = { count: 0, bytes: 0 };
    const pins = this.#shared?.pinHolders();
    if (pins === undefined || this.#policy.name === "none") return pinned;
    const table = this.#objects;
    for (const key of pins.keys()) {
      const slot = table.slotOf(key);
      if (slot < 0 || !table.isSealed(slot) || table.refCount(slot) > 0 || this.#shared?.isRetiring(key))
        continue;
      pinned.count++;
      pinned.bytes += table.sizeAt(slot);
    }
    return pinned;
  }

  /** Per client, the objects it pins through the directory without holding a store reference. */
  #pinnedByClient(): Map<number, number> | undefined {
    const pins = this.#shared?.pinHolders();
    if (pins === undefined || pins.size === 0) return undefined;
    const counts = new Map<number, number>();
    for (const [key, clients] of pins) {
      for (const clientId of clients) {
        if (this.#clients.get(clientId)?.held.has(key) !== false) continue;
        counts.set(clientId, (counts.get(clientId) ?? 0) + 1);
      }
    }
    return counts;
  }

  // ------------------------------------------------------------------ create / seal / abort

  /**
   * Creates an unsealed object held by its creator. Evicts to make room. Throws ObjectExistsError,
   * StoreFullError, LimitExceededError.
   */
  create(clientId: number, spec: CreateSpec): ObjectEntry {
    const client = this.#client(clientId);
    this.#checkCreate(spec);
    const entry = this.#tryCreate(client, spec);
    if (entry === null) {
      this.#counters.storeFullErrors++;
      throw this.#storeFull(spec);
    }
    return entry;
  }

  /**
   * Like create, but when memory is held by others waits up to waitMs (-1: forever) for it to be
   * released, in FIFO order with other waiting creates. `done` is called exactly once, maybe synchronously.
   * A create with waitMs 0 never queues.
   *
   * The queue is strictly FIFO on purpose: a small create that would fit does not pass a larger one that
   * came first, or a steady stream of small creates could starve a large one forever. A create that
   * times out behind others says so in its StoreFullError (how many are ahead, what the first needs).
   */
  createOrWait(
    clientId: number,
    spec: CreateSpec,
    waitMs: number,
    done: (result: ObjectEntry | PlasmaError) => void,
  ): void {
    try {
      if (waitMs === 0 && this.#spill === null) {
        done(this.create(clientId, spec));
        return;
      }
      const client = this.#client(clientId);
      this.#checkCreate(spec);
      // A waitMs 0 create takes memory free now (it does not queue behind others), or waits for the
      // spills it started (see docs/spilling.md).
      if (this.#createQueue.length === 0 || waitMs === 0) {
        const entry = this.#tryCreate(client, spec);
        if (entry !== null) {
          done(entry);
          return;
        }
        if (waitMs === 0 && this.#spillingBytes === 0) {
          this.#counters.storeFullErrors++;
          throw this.#storeFull(spec);
        }
      }
      if (client.pendingCreates.size >= this.limits.maxPendingCreatesPerClient) {
        throw new LimitExceededError(
          `This client already has ${client.pendingCreates.size} creates waiting for memory (limit ${this.limits.maxPendingCreatesPerClient}).`,
        );
      }
      const costBytes = WAITING_CREATE_BYTES + spec.metadataSize;
      this.#checkWaitingBudget(client, costBytes, "create");
      const untilSpillsSettle = waitMs === 0;
      const pending: PendingCreate = {
        clientId,
        spec,
        done,
        timer: null,
        costBytes,
        untilSpillsSettle,
        restore: null,
      };
      if (waitMs > 0) {
        pending.timer = this.#clock.setTimeout(() => this.#createWaitExpired(pending, waitMs), waitMs);
      }
      client.pendingCreates.add(pending);
      client.waitingBytes += costBytes;
      this.#createQueue.push(pending);
    } catch (error) {
      done(asPlasmaError(error));
    }
  }

  seal(clientId: number, key: string): ObjectEntry {
    return this.#sealBy(this.#client(clientId), key);
  }

  #sealBy(client: ClientSession, key: string): ObjectEntry {
    const table = this.#objects;
    const slot = table.slotOf(key);
    if (slot < 0 || !client.creating.has(key)) {
      if (slot >= 0 && table.isSealed(slot))
        throw new ObjectAlreadySealedError(`Object ${hexOf(key)} is already sealed.`);
      throw new ObjectNotFoundError(
        `Object ${hexOf(key)} is not being created by this client; only its creator can seal it.`,
      );
    }
    client.creating.delete(key);
    table.markSealed(slot, this.#nextSealOrder++, this.#clock.monotonicMs());
    this.#counters.seals++;
    this.#policy.objectSealed(key, table.sizeAt(slot));
    const entry = table.entryAt(slot, key);
    this.#shared?.publish(key, entry.id, entry.offset, entry.dataSize, entry.metadataSize);
    this.#emit({ kind: "object_sealed", entry });
    this.#notify(entry, false);
    for (const waiter of this.#waiters.sealed(key)) waiter.complete();
    return entry;
  }

  abort(clientId: number, key: string): void {
    const client = this.#client(clientId);
    const slot = this.#objects.slotOf(key);
    if (slot < 0) throw new ObjectNotFoundError(`Object ${hexOf(key)} does not exist; nothing to abort.`);
    if (this.#objects.isSealed(slot)) {
      throw new ObjectAlreadySealedError(
        `Object ${hexOf(key)} is sealed; a sealed object cannot be aborted (delete it).`,
      );
    }
    if (!client.creating.has(key)) {
      throw new ObjectNotFoundError(
        `Object ${hexOf(key)} is being created by another client; only its creator can abort it.`,
      );
    }
    this.#abortEntry(client, slot, key);
    this.#serveCreateQueue();
  }

  /**
   * Creates, fills (the edge writes data and metadata into the entry's block), seals and releases the
   * object, as one transaction: if `fill` or the seal throws, the object is aborted and the error rethrown.
   */
  createAndSeal(clientId: number, spec: CreateSpec, fill: (entry: ObjectEntry) => void): void {
    const entry = this.create(clientId, spec);
    try {
      fill(entry);
      this.seal(clientId, spec.key);
    } catch (error) {
      this.#abortIfCreating(clientId, spec.key);
      throw error;
    }
    this.release(clientId, spec.key, 1);
  }

  /**
   * createAndSeal that, with spilling on, may wait for the spills it starts (as a waitMs 0 create):
   * `fill` and `done` may be called later (the edge then keeps copies of the bytes). done(null) on success.
   */
  createAndSealOrWait(
    clientId: number,
    spec: CreateSpec,
    fill: (entry: ObjectEntry) => void,
    done: (error: PlasmaError | null) => void,
  ): void {
    this.createOrWait(clientId, spec, 0, (result) => {
      if (result instanceof PlasmaError) {
        done(result);
        return;
      }
      try {
        fill(result);
        this.seal(clientId, spec.key);
      } catch (error) {
        this.#abortIfCreating(clientId, spec.key);
        done(asPlasmaError(error));
        return;
      }
      this.release(clientId, spec.key, 1);
      done(null);
    });
  }

  // ------------------------------------------------------------------ get / release

  /**
   * Waits until every key is sealed or timeoutMs passes (-1 forever, 0 no wait), then calls `done` with
   * the entries (a reference granted per found entry) and null for the rest. May call done synchronously.
   * `done` must not throw: a get that waited completes inside another client's seal, and what goes wrong
   * answering this client is this client's alone (the edge turns it into its error reply or hangs up).
   */
  get(
    clientId: number,
    keys: readonly string[],
    timeoutMs: number,
    done: (result: GetResult) => void,
    fail?: (error: PlasmaError) => void,
  ): void {
    this.#getRestoring(clientId, keys, timeoutMs, done, fail, 0);
  }

  /**
   * get, after restoring the spilled objects among `keys` (a restore is not bounded by timeoutMs). A
   * failed restore fails the get (without `fail`: the object is answered as not found); objects spilled
   * again before the get could take them are restored again, at most MAX_RESTORE_ROUNDS times.
   */
  #getRestoring(
    clientId: number,
    keys: readonly string[],
    timeoutMs: number,
    done: (result: GetResult) => void,
    fail: ((error: PlasmaError) => void) | undefined,
    round: number,
  ): void {
    const client = this.#client(clientId);
    this.#checkGetSize(keys);
    const restoring = this.#restoreThen(keys, (error) => {
      if (!this.#clients.has(clientId)) return;
      const failWith = (failure: PlasmaError) =>
        fail === undefined ? done(this.#grant(client, keys)) : fail(failure);
      if (error !== null) return failWith(error);
      if (round + 1 >= MAX_RESTORE_ROUNDS && keys.some((key) => this.#spilled.has(key))) {
        this.#counters.storeFullErrors++;
        return failWith(
          new StoreFullError(
            `The ${keys.length} objects of this get do not fit in memory at once (each restored one was spilled again to restore the next); get fewer at a time or start plasma_store with a larger -m.`,
          ),
        );
      }
      try {
        this.#getRestoring(clientId, keys, timeoutMs, done, fail, round + 1);
      } catch (failure) {
        failWith(asPlasmaError(failure));
      }
    });
    if (restoring) return;
    const unsealed: string[] = [];
    for (const key of keys) if (this.#objects.get(key)?.state !== "sealed") unsealed.push(key);
    const fetching = this.#requestFetches(unsealed, timeoutMs);
    if (unsealed.length === 0 || (timeoutMs === 0 && fetching.length === 0)) {
      done(this.#grant(client, keys));
      return;
    }
    if (client.waiters.size >= this.limits.maxPendingGetsPerClient) {
      throw new LimitExceededError(
        `This client already has ${client.waiters.size} gets waiting (limit ${this.limits.maxPendingGetsPerClient}); wait for some to finish.`,
      );
    }
    const costBytes = keys.length * WAITING_ID_BYTES;
    this.#checkWaitingBudget(client, costBytes, "get");
    const finish = (): void => {
      client.waiters.delete(waiter);
      client.waitingBytes -= costBytes;
      if (waiter.timer !== null) this.#clock.clearTimeout(waiter.timer);
    };
    const failed =
      fail === undefined
        ? null
        : (error: Error) => {
            finish();
            fail(asPlasmaError(error));
          };
    const waited = timeoutMs === 0 ? fetching : unsealed;
    const waiter: GetWaiter = new GetWaiter(
      clientId,
      keys,
      waited,
      () => {
        finish();
        done(this.#grant(client, keys));
      },
      timeoutMs === 0,
      failed,
    );
    if (timeoutMs > 0) {
      waiter.timer = this.#clock.setTimeout(() => {
        waiter.timer = null;
        if (this.#waiters.remove(waiter)) {
          this.#counters.getTimeouts++;
          waiter.complete();
        }
      }, timeoutMs);
    }
    client.waiters.add(waiter);
    client.waitingBytes += costBytes;
    this.#waiters.add(waiter);
  }

  /** A get that does not wait: the entries (a reference granted per found sealed object), null for the rest. */
  getNow(clientId: number, keys: readonly string[]): GetResult {
    const client = this.#client(clientId);
    this.#checkGetSize(keys);
    return this.#grant(client, keys);
  }

  /**
   * A get of the objects' metadata only: waits as get does, copies each found object's metadata out
   * through `readMetadata` (the edge reads the arena), gives the references back, then calls `done` with
   * the copies (null for objects not found), or with the error: a LimitExceededError when they would not
   * fit one reply frame (checked before anything is copied), or what `readMetadata` threw. May call done
   * synchronously; `done` must not throw (see get).
   */
  getMetadata(
    clientId: number,
    keys: readonly string[],
    timeoutMs: number,
    readMetadata: (entry: ObjectEntry) => Uint8Array,
    done: (metadata: (Uint8Array | null)[] | Error) => void,
  ): void {
    this.get(
      clientId,
      keys,
      timeoutMs,
      (result) => {
        let reply: (Uint8Array | null)[] | Error;
        try {
          checkMetadataReplySize(result);
          reply = result.map((entry) => (entry === null ? null : readMetadata(entry)));
        } catch (error) {
          reply = error instanceof Error ? error : new Error(String(error));
        } finally {
          for (let i = 0; i < result.length; i++) {
            if (result[i] !== null) this.release(clientId, keys[i] as string, 1);
          }
        }
        done(reply);
      },
      done,
    );
  }

  /** Gives back `count` store references of this client to the object. */
  release(clientId: number, key: string, count: number): void {
    const client = this.#client(clientId);
    const table = this.#objects;
    const slot = table.slotOf(key);
    const held = slot < 0 ? 0 : table.holdCount(slot, clientId);
    if (held === 0) {
      throw new ObjectNotFoundError(
        `This client holds no reference to object ${hexOf(key)}; nothing to release.`,
      );
    }
    if (!table.isSealed(slot)) {
      throw new ObjectNotSealedError(
        `Object ${hexOf(key)} is not sealed yet; seal or abort it instead of releasing it.`,
      );
    }
    if (count > held) {
      throw new ObjectNotFoundError(
        `This client holds ${held} references to object ${hexOf(key)}, cannot release ${count}.`,
      );
    }
    this.#counters.releases += count;
    table.touch(slot, this.#clock.now());
    if (count < held) {
      table.setHoldCount(slot, clientId, held - count);
      return;
    }
    this.#dropHolder(client, slot, key);
  }

  // ------------------------------------------------------------------ contains / delete / evict / list

  /** Sealed, in memory or spilled (Plasma's rule for objects in its external store). */
  contains(key: string): boolean {
    const slot = this.#objects.slotOf(key);
    return (slot >= 0 && this.#objects.isSealed(slot)) || this.#spilled.has(key);
  }

  /** Deletes sealed unreferenced objects now, the rest when their last reference goes. Returns the count deleted now. */
  delete(keys: readonly string[]): number {
    if (keys.length > this.limits.maxIdsPerRequest) {
      throw new LimitExceededError(
        `${keys.length} ids in one delete is over the limit of ${this.limits.maxIdsPerRequest} (--max-ids-per-request); split the delete into smaller batches.`,
      );
    }
    let deletedNow = 0;
    const table = this.#objects;
    for (const key of keys) {
      const slot = table.slotOf(key);
      if (slot < 0) {
        if (this.#deleteSpilled(key)) deletedNow++;
        continue;
      }
      if (
        table.isSealed(slot) &&
        table.refCount(slot) === 0 &&
        !this.#spilling.has(key) &&
        this.#mayFree(key)
      ) {
        this.#removeEntry(slot, key, "object_deleted");
        deletedNow++;
      } else {
        table.markDeletePending(slot);
      }
    }
    if (deletedNow > 0) this.#serveCreateQueue();
    return deletedNow;
  }

  /**
   * Evicts sealed unreferenced objects in policy order until at least `bytes` are freed; returns bytes freed.
   * With spilling on, victims are spilled: their bytes count as freed, and are free once their file is durable.
   */
  evict(bytes: number): number {
    this.#drainDirectoryUses();
    const freed = this.#evict(bytes);
    if (freed > 0) this.#serveCreateQueue();
    return freed;
  }

  /** The entry of a sealed object, for hashing and reading; throws if absent or unsealed. */
  sealedEntry(key: string): ObjectEntry {
    const slot = this.#objects.slotOf(key);
    if (slot < 0) throw new ObjectNotFoundError(`Object ${hexOf(key)} is not in the store.`);
    if (!this.#objects.isSealed(slot))
      throw new ObjectNotSealedError(`Object ${hexOf(key)} is not sealed yet.`);
    return this.#objects.entryAt(slot, key);
  }

  // ------------------------------------------------------------------ missing-object sources

  /** Adds a source gets ask for objects not in memory (see MissingObjectSource); asked in order added. */
  addMissingObjectSource(source: MissingObjectSource): void {
    this.#fetches.add(source);
  }

  /**
   * A source's fetch of `key` ended without sealing it here. `null`: it found nothing, so gets with timeout
   * 0 that wait for it answer now (null for it) and the others wait on to their timeout (the sources are
   * asked again if a get that joined waits longer than this fetch was asked to). An error (e.g.
   * StoreFullError): every get waiting for the key fails with it.
   */
  sourceFinished(key: string, outcome: PlasmaError | null): void {
    const wantedMs = this.#fetches.finish(key);
    if (this.contains(key)) return;
    for (const waiter of this.#waiters.waitersOf(key)) {
      if (outcome !== null) {
        if (!this.#waiters.remove(waiter)) continue;
        if (waiter.fail === null) waiter.complete();
        else waiter.fail(outcome);
      } else if (waiter.immediate && this.#waiters.giveUp(waiter, key)) {
        waiter.complete();
      }
    }
    const nowMs = this.#clock.monotonicMs();
    if (
      outcome === null &&
      wantedMs !== null &&
      wantedMs > nowMs &&
      this.#waiters.waitersOf(key).length > 0
    ) {
      this.#fetches.request(key, wantedMs, nowMs);
    }
  }

  /** Keys a source is fetching now (a read-only count, for tests and stats). */
  get fetchingCount(): number {
    return this.#fetches.size;
  }

  /**
   * Creates an unsealed object for a source to fill (the edge writes its bytes into the entry's block);
   * no client sees it until sealForSource. Evicts to make room; throws StoreFullError, LimitExceededError,
   * ObjectExistsError as create does.
   */
  createForSource(spec: CreateSpec): ObjectEntry {
    this.#checkCreate(spec);
    const entry = this.#tryCreate(this.#system, spec);
    if (entry === null) {
      this.#counters.storeFullErrors++;
      throw this.#storeFull(spec);
    }
    this.#sourceCopies.add(spec.key);
    return entry;
  }

  /** Seals an object createForSource made (its gets resolve) and lets go of it: it is evictable now. */
  sealForSource(key: string): ObjectEntry {
    if (!this.#system.creating.has(key)) {
      throw new ObjectNotFoundError(`Object ${hexOf(key)} is not being created by a source.`);
    }
    const entry = this.#sealBy(this.#system, key);
    this.#releaseAll(this.#system, this.#objects.slotOf(key), key);
    return entry;
  }

  /** Drops an object createForSource made and never sealed; nothing if it is not one. */
  abortForSource(key: string): void {
    const slot = this.#objects.slotOf(key);
    if (slot < 0 || !this.#system.creating.has(key)) return;
    this.#abortEntry(this.#system, slot, key);
    this.#serveCreateQueue();
  }

  /** A reference for a source's reader (the transfer service) to a sealed object, or null if it has none. */
  holdForSource(key: string): ObjectEntry | null {
    const table = this.#objects;
    const slot = table.slotOf(key);
    if (slot < 0 || !table.isSealed(slot)) return null;
    const held = table.holdCount(slot, this.#system.id);
    if (held === 0) this.#system.held.add(key);
    this.#policy.accessBegan(key);
    table.setHoldCount(slot, this.#system.id, held + 1);
    return table.entryAt(slot, key);
  }

  /**
   * holdForSource of an object that may be spilled: a spilled one is restored first (as a get restores
   * it: evicting or spilling others, or failing with StoreFullError), then held. `done` gets the held
   * entry, or null when the store has no sealed or spilled object with that key; it may run synchronously.
   */
  holdForSourceRestoring(
    key: string,
    done: (entry: ObjectEntry | null, error: PlasmaError | null) => void,
  ): void {
    const attempt = (round: number): void => {
      const restoring = this.#restoreThen([key], (error) => {
        if (error !== null) return done(null, error);
        if (round + 1 < MAX_RESTORE_ROUNDS || !this.#spilled.has(key)) return attempt(round + 1);
        done(null, new StoreFullError(`Object ${hexOf(key)} was spilled again before it could be served.`));
      });
      if (!restoring) done(this.holdForSource(key), null);
    };
    attempt(0);
  }

  /** Gives back one reference holdForSource granted. */
  releaseForSource(key: string): void {
    const table = this.#objects;
    const slot = table.slotOf(key);
    const held = slot < 0 ? 0 : table.holdCount(slot, this.#system.id);
    if (held === 0) throw new ObjectNotFoundError(`No source holds object ${hexOf(key)}.`);
    if (held > 1) table.setHoldCount(slot, this.#system.id, held - 1);
    else this.#dropHolder(this.#system, slot, key);
  }

  // ------------------------------------------------------------------ subscribe

  /**
   * Sends existing sealed objects (in seal order), then every seal and removal, to the client's sink. The
   * sink must not throw: it is called inside other clients' requests (as get's `done`).
   */
  subscribe(clientId: number, sink: (notes: NotificationWire[]) => void): void {
    const client = this.#client(clientId);
    const table = this.#objects;
    const sealed = table
      .slots()
      .filter((slot) => table.isSealed(slot))
      .map((slot) => table.entryAt(slot));
    for (const object of this.#spilled.values()) sealed.push(spilledEntryOf(object));
    sealed.sort((a, b) => a.sealOrder - b.sealOrder);
    client.subscriber = sink;
    if (sealed.length > 0) sink(sealed.map((e) => notificationOf(e, false)));
  }

  // ------------------------------------------------------------------ eviction policy

  setEvictionPolicy(name: EvictionPolicyName): void {
    const from = this.#policy.name;
    const next = migratePolicy(this.#policy, name);
    this.#policy = next;
    this.#emit({ kind: "policy_changed", from, to: name });
    this.#serveCreateQueue();
  }

  // ------------------------------------------------------------------ spilling (issue 16)

  /** True when the store was built with a spill budget. */
  get spillEnabled(): boolean {
    return this.#spill !== null;
  }

  /** The edge that writes and reads spill files; spilling starts once it is attached. */
  attachSpillSink(sink: SpillSink): void {
    if (this.#spill === null) throw new PlasmaError("This store was built without spilling.");
    this.#spillSink = sink;
  }

  /** An intact file found at start-up: the object is in the store again, spilled. */
  adoptSpilled(object: SpilledObject, fileBytes: number): void {
    if (this.#spill === null) throw new PlasmaError("This store was built without spilling.");
    if (this.#objects.has(object.key) || this.#spilled.has(object.key)) {
      throw new ObjectExistsError(`Object ${hexOf(object.key)} is in the store already.`);
    }
    this.#spill.adopt(object.key, {
      dataSizeBytes: object.dataSize,
      metadataSizeBytes: object.metadataSize,
      fileBytes,
    });
    this.#spilled.set(object.key, object);
  }

  spilledObject(key: string): SpilledObject | undefined {
    return this.#spilled.get(key);
  }

  /** Spills and restores in flight. */
  get spillJobsInFlight(): number {
    return this.#spilling.size + this.#restoring.size;
  }

  spillStats(): SpillStats | null {
    const index = this.#spill;
    if (index === null) return null;
    let spilledBytes = 0;
    for (const object of this.#spilled.values()) spilledBytes += object.dataSize + object.metadataSize;
    return {
      budgetBytes: index.budgetBytes,
      diskUsedBytes: index.usedBytes + index.reservedBytes,
      spilledCount: this.#spilled.size,
      spilledBytes,
      spillingCount: this.#spilling.size,
      restoringCount: this.#restoring.size,
      ...this.#spillFigures,
      drops: index.drops(),
    };
  }

  /** Starts spilling every sealed object nobody holds (the store is stopping); returns how many started. */
  spillAll(): number {
    let started = 0;
    for (const key of this.#policy.chooseVictims(Number.MAX_SAFE_INTEGER)) {
      const slot = this.#objects.slotOf(key);
      if (slot >= 0 && this.#mayFree(key) && this.#spillVictim(slot, key)) started++;
    }
    return started;
  }

  /** The edge's report of a spill started by the core. Frees the object's memory on success. */
  spillFinished(key: string, outcome: SpillOutcome): void {
    const size = this.#spilling.get(key);
    if (this.#spill === null || size === undefined) return;
    this.#spilling.delete(key);
    this.#spillingBytes -= size;
    const slot = this.#objects.slotOf(key);
    assert(slot >= 0, "a spilling object stays in the table");
    if (outcome.ok) this.#spillDone(slot, key, size, outcome.durationMs);
    else this.#spillFailed(slot, key, outcome);
    this.#serveCreateQueue();
  }

  /** The edge's report of a restore: error null when the block holds the verified bytes. */
  restoreFinished(key: string, error: PlasmaError | null, durationMs: number): void {
    const offset = this.#restoring.get(key);
    const object = this.#spilled.get(key);
    if (offset === undefined || object === undefined) return;
    this.#restoring.delete(key);
    if (error !== null || this.#deleteAfterRestore.has(key)) {
      this.#allocator.free(offset);
      if (error !== null) this.#spillFigures.restoreFailures++;
      const deleted = this.#deleteAfterRestore.delete(key) && this.#deleteSpilled(key);
      this.#finishRestore(key, deleted ? null : error);
      this.#serveCreateQueue();
      return;
    }
    const table = this.#objects;
    const now = this.#clock.monotonicMs();
    const slot = table.addSealed(
      {
        key,
        offset,
        dataSize: object.dataSize,
        metadataSize: object.metadataSize,
        allocatedBytes: this.#allocator.blockSizeBytes(offset),
        creatorClientId: 0,
        createTimeMs: object.createTimeMs,
        createdAtMs: now - object.constructDurationMs,
      },
      object.sealOrder > 0 ? object.sealOrder : this.#nextSealOrder++,
      now,
    );
    const size = object.dataSize + object.metadataSize;
    this.#policy.objectSealed(key, size);
    this.#policy.accessEnded(key);
    this.#forgetSpilled(key);
    this.#spillFigures.restores++;
    this.#spillFigures.restoreBytesTotal += size;
    this.#spillFigures.restoreSecondsTotal += durationMs / 1000;
    this.#emit({ kind: "object_restored", entry: table.entryAt(slot, key) });
    this.#finishRestore(key, null);
  }

  /** Starts the victim's spill (pinning it) and returns true, or records why it is dropped and returns false. */
  #spillVictim(slot: number, key: string): boolean {
    const index = this.#spill;
    const sink = this.#spillSink;
    if (index === null || sink === null) return false;
    const entry = this.#objects.entryAt(slot, key);
    const size = entry.dataSize + entry.metadataSize;
    const sizes = {
      dataSizeBytes: entry.dataSize,
      metadataSizeBytes: entry.metadataSize,
      fileBytes: SPILL_FILE_OVERHEAD_BYTES + size,
    };
    let reason: SpillDropReason | null = null;
    if (this.#clock.monotonicMs() < this.#spillPausedUntilMs) reason = this.#spillPauseReason;
    else if (!index.reserve(key, sizes)) reason = "budget";
    if (reason !== null) {
      const { startsEpisode } = index.recordDrop(reason);
      this.#emit({ kind: "spill_dropped", entry, reason, startsEpisode });
      return false;
    }
    this.#policy.accessBegan(key);
    this.#spilling.set(key, size);
    this.#spillingBytes += size;
    sink.spill(entry);
    return true;
  }

  #spillDone(slot: number, key: string, size: number, durationMs: number): void {
    const index = this.#spill as SpillIndex<RestoreWaiter>;
    const table = this.#objects;
    index.commit(key);
    this.#spillFigures.spills++;
    this.#spillFigures.spillBytesTotal += size;
    this.#spillFigures.spillSecondsTotal += durationMs / 1000;
    if (table.refCount(slot) > 0 || table.deletePendingAt(slot)) {
      // Got again, or deleted, while it was written: it stays in memory (or goes), the file is not needed.
      index.remove(key);
      this.#spillSink?.remove(key);
      if (table.refCount(slot) === 0) this.#removeEntry(slot, key, "object_deleted");
      return;
    }
    const entry = table.entryAt(slot, key);
    const object: SpilledObject = {
      key,
      id: entry.id,
      dataSize: entry.dataSize,
      metadataSize: entry.metadataSize,
      createTimeMs: entry.createTimeMs,
      constructDurationMs: entry.constructDurationMs,
      sealOrder: entry.sealOrder,
    };
    this.#policy.objectRemoved(key);
    this.#allocator.free(table.offsetAt(slot));
    const detached = table.remove(slot);
    this.#spilled.set(key, object);
    this.#emit({ kind: "object_spilled", entry: detached });
  }

  /** A failed write loses nothing: the object stays in memory; victims are dropped for a while. */
  #spillFailed(slot: number, key: string, outcome: Extract<SpillOutcome, { ok: false }>): void {
    const table = this.#objects;
    (this.#spill as SpillIndex<RestoreWaiter>).cancel(key);
    if (outcome.error.code !== "SPILL_CANCELLED") {
      this.#spillPausedUntilMs = this.#clock.monotonicMs() + this.#spillPauseMs;
      this.#spillPauseReason = outcome.reason;
    }
    this.#emit({ kind: "spill_failed", entry: table.entryAt(slot, key), error: outcome.error });
    if (table.refCount(slot) > 0) return;
    if (table.deletePendingAt(slot)) this.#removeEntry(slot, key, "object_deleted");
    else this.#policy.accessEnded(key);
  }

  /**
   * Restores every spilled object among `keys` (joining restores in flight), then calls `proceed` once
   * with the first error or null. Returns false, without calling proceed, when none is spilled.
   */
  #restoreThen(keys: readonly string[], proceed: RestoreWaiter): boolean {
    const index = this.#spill;
    if (index === null || this.#spilled.size === 0) return false;
    let left = 0;
    let first: PlasmaError | null = null;
    const waiter: RestoreWaiter = (error) => {
      first ??= error;
      if (--left === 0) proceed(first);
    };
    const started: SpilledObject[] = [];
    for (const key of new Set(keys)) {
      const object = this.#spilled.get(key);
      if (object === undefined) continue;
      left++;
      if (index.beginRestore(key, waiter) === "start") started.push(object);
    }
    for (const object of started) this.#startRestore(object);
    return left > 0;
  }

  #startRestore(object: SpilledObject): void {
    const spec = {
      id: object.id,
      key: object.key,
      dataSize: object.dataSize,
      metadataSize: object.metadataSize,
    };
    if (this.#createQueue.length === 0) {
      const offset = this.#allocateFor(spec.dataSize + spec.metadataSize);
      if (offset !== null) {
        this.#launchRestore(object, offset);
        return;
      }
      if (this.#spillingBytes === 0) {
        this.#restoreFailed(object.key, this.#restoreFull(object));
        return;
      }
    }
    this.#createQueue.push({
      clientId: 0,
      spec,
      done: () => {},
      timer: null,
      costBytes: 0,
      untilSpillsSettle: true,
      restore: object,
    });
  }

  #launchRestore(object: SpilledObject, offset: number): void {
    this.#restoring.set(object.key, offset);
    (this.#spillSink as SpillSink).restore(object, offset);
  }

  #restoreFailed(key: string, error: PlasmaError): void {
    this.#spillFigures.restoreFailures++;
    this.#finishRestore(key, error);
  }

  #restoreFull(object: SpilledObject): StoreFullError {
    this.#counters.storeFullErrors++;
    const total = object.dataSize + object.metadataSize;
    return new StoreFullError(
      `No room to restore spilled object ${hexOf(object.key)} of ${total} bytes: ${this.#allocator.freeBytes} of ${this.capacityBytes} bytes free, ${this.#policy.evictableCount} evictable objects of ${this.#policy.evictableBytes} bytes; it stays spilled. Release objects, or start plasma_store with a larger -m.`,
    );
  }

  #finishRestore(key: string, error: PlasmaError | null): void {
    for (const waiter of (this.#spill as SpillIndex<RestoreWaiter>).finishRestore(key)) waiter(error);
  }

  /** Deletes a spilled object (its file goes; subscribers hear it). False if it is not spilled. */
  #deleteSpilled(key: string): boolean {
    const object = this.#spilled.get(key);
    if (object === undefined) return false;
    if (this.#restoring.has(key)) {
      this.#deleteAfterRestore.add(key);
      return false;
    }
    this.#forgetSpilled(key);
    this.#counters.deletes++;
    this.#spillFigures.spilledDeletes++;
    const entry = spilledEntryOf(object);
    this.#emit({ kind: "object_deleted", entry });
    this.#notify(entry, true);
    return true;
  }

  /** The object is no longer spilled: its file goes, its bytes leave the budget, spilling may resume. */
  #forgetSpilled(key: string): void {
    (this.#spill as SpillIndex<RestoreWaiter>).remove(key);
    this.#spilled.delete(key);
    this.#spillSink?.remove(key);
    this.#spillPausedUntilMs = Number.NEGATIVE_INFINITY;
  }

  #checkSpillInvariants(): void {
    const index = this.#spill;
    if (index === null) return;
    index.checkInvariants();
    for (const key of this.#spilled.keys()) {
      if (this.#objects.has(key))
        throw new Error(`invariant: object ${hexOf(key)} both spilled and in memory`);
    }
    for (const key of this.#spilling.keys()) {
      const slot = this.#objects.slotOf(key);
      if (slot < 0 || !this.#objects.isSealed(slot) || !index.isSpilling(key)) {
        throw new Error(`invariant: spilling object ${hexOf(key)} is not a sealed object with a reservation`);
      }
    }
    for (const key of this.#restoring.keys()) {
      if (!this.#spilled.has(key)) throw new Error(`invariant: restore of ${hexOf(key)}, not spilled`);
    }
  }

  // ------------------------------------------------------------------ invariants

  /** Throws if any invariant is broken (allocator, table, references, policy). For tests and the admin plane. */
  checkInvariants(): void {
    this.#allocator.checkInvariants();
    const table = this.#objects;
    table.checkInvariants();
    let bytes = 0;
    let evictableCount = 0;
    const refsByClient = new Map<number, number>();
    for (const slot of table.slots()) {
      const key = table.keyAt(slot);
      const allocatedBytes = table.allocatedBytesAt(slot);
      bytes += allocatedBytes;
      if (this.#allocator.blockSizeBytes(table.offsetAt(slot)) !== allocatedBytes) {
        throw new Error(`invariant: object ${hexOf(key)} block size mismatch`);
      }
      for (const [clientId, count] of table.holdersAt(slot)) {
        const client = this.#sessionOf(clientId);
        if (client === undefined || !client.held.has(key) || count <= 0) {
          throw new Error(`invariant: object ${hexOf(key)} held by unknown client ${clientId}`);
        }
        refsByClient.set(clientId, (refsByClient.get(clientId) ?? 0) + 1);
      }
      const sealed = table.isSealed(slot);
      const retiring = this.#shared?.isRetiring(key) === true;
      if (sealed && table.refCount(slot) === 0 && !this.#spilling.has(key) && !retiring) evictableCount++;
      if (!sealed && !this.#sessionOf(table.creatorAt(slot))?.creating.has(key)) {
        throw new Error(`invariant: unsealed object ${hexOf(key)} has no live creator`);
      }
    }
    for (const offset of this.#restoring.values()) bytes += this.#allocator.blockSizeBytes(offset);
    this.#checkSpillInvariants();
    if (bytes !== this.#allocator.usedBytes) {
      throw new Error(
        `invariant: objects use ${bytes} bytes but the allocator has ${this.#allocator.usedBytes} in use`,
      );
    }
    if (!this.#allocationsMatch()) {
      throw new Error("invariant: allocation count differs from object count");
    }
    for (const client of [...this.#clients.values(), this.#system]) {
      if ((refsByClient.get(client.id) ?? 0) !== client.held.size) {
        throw new Error(`invariant: client ${client.id} held set differs from object holders`);
      }
    }
    if (this.#policy.evictableCount !== evictableCount && this.#policy.name !== "none") {
      throw new Error(
        `invariant: policy has ${this.#policy.evictableCount} evictable objects, table has ${evictableCount}`,
      );
    }
  }

  // ------------------------------------------------------------------ internals

  #sessionOf(clientId: number): ClientSession | undefined {
    return clientId === this.#system.id ? this.#system : this.#clients.get(clientId);
  }

  /** Asks the sources for the keys not in the table at all; returns those a source is fetching. */
  #requestFetches(unsealed: readonly string[], timeoutMs: number): string[] {
    if (unsealed.length === 0 || !this.#fetches.hasSources) return [];
    const nowMs = this.#clock.monotonicMs();
    const deadlineMs = timeoutMs < 0 ? Number.POSITIVE_INFINITY : nowMs + timeoutMs;
    const fetching: string[] = [];
    for (const key of unsealed) {
      if (!this.#objects.has(key) && this.#fetches.request(key, deadlineMs, nowMs)) fetching.push(key);
    }
    return fetching;
  }

  #client(clientId: number): ClientSession {
    const client = this.#clients.get(clientId);
    if (client === undefined) throw new PlasmaError(`Unknown client ${clientId}.`);
    return client;
  }

  #checkGetSize(keys: readonly string[]): void {
    if (keys.length > this.limits.maxIdsPerRequest) {
      throw new LimitExceededError(
        `${keys.length} ids in one get is over the limit of ${this.limits.maxIdsPerRequest} (--max-ids-per-request); split the get into smaller batches.`,
      );
    }
  }

  /** Throws LimitExceededError if one more waiting request of `costBytes` would go past the budget. */
  #checkWaitingBudget(client: ClientSession, costBytes: number, what: "get" | "create"): void {
    const budget = this.limits.maxClientMemoryBytes;
    if (client.waitingBytes + costBytes <= budget) return;
    throw new LimitExceededError(
      `This ${what} would wait holding about ${costBytes} bytes of store memory; with this client's blocked gets and waiting creates (${client.waitingBytes} bytes) that is over its budget of ${budget} (--max-client-memory). Wait for some to finish, or ask for fewer ids at a time.`,
    );
  }

  /** Aborts the object if the client is still creating it (a failed createAndSeal). */
  #abortIfCreating(clientId: number, key: string): void {
    const client = this.#clients.get(clientId);
    const slot = this.#objects.slotOf(key);
    if (client === undefined || slot < 0 || !client.creating.has(key)) return;
    this.#abortEntry(client, slot, key);
    this.#serveCreateQueue();
  }

  #checkCreate(spec: CreateSpec): void {
    const total = spec.dataSize + spec.metadataSize;
    if (spec.metadataSize > this.limits.maxMetadataBytes) {
      throw new LimitExceededError(
        `Metadata of ${spec.metadataSize} bytes is over the limit of ${this.limits.maxMetadataBytes} (--max-metadata-size); keep large data in the object itself.`,
      );
    }
    if (total > this.capacityBytes) {
      this.#counters.storeFullErrors++;
      throw new StoreFullError(
        `Object ${hexOf(spec.key)} needs ${total} bytes, more than the store's whole capacity of ${this.capacityBytes}; start plasma_store with a larger -m.`,
      );
    }
    if (total > this.limits.maxObjectBytes) {
      throw new LimitExceededError(
        `Object of ${total} bytes is over the store's maximum object size of ${this.limits.maxObjectBytes} (--max-object-size); split it into smaller objects.`,
      );
    }
    if (this.#objects.has(spec.key)) {
      throw new ObjectExistsError(
        `Object ${hexOf(spec.key)} already exists in the store; pick another id or delete it first.`,
      );
    }
  }

  /**
   * A block of `total` bytes, evicting (or, with spilling on, spilling) victims if it helps; null if it
   * cannot fit now. Spilled victims free their memory later: while spills in flight would make room, no
   * more victims are chosen and the caller waits (the create queue).
   */
  #allocateFor(total: number): number | null {
    let offset = this.#allocator.allocate(total);
    if (offset !== null) return offset;
    if (this.#reclaimableBytesBound() < total) return null;
    this.#drainDirectoryUses();
    while (offset === null) {
      if (this.#spillingBytes > 0 && this.#allocator.freeBytes + this.#spillingBytes >= total) return null;
      const victimKey = this.#chooseVictims(1)[0];
      const victim = victimKey === undefined ? -1 : this.#objects.slotOf(victimKey);
      if (victim < 0 || victimKey === undefined) return null;
      // A victim a client pins through the directory stays (and leaves the evictable set) until unpinned.
      if (this.#mayFree(victimKey)) this.#spillOrDrop(victim, victimKey);
      offset = this.#allocator.allocate(total);
    }
    return offset;
  }

  #allocationsMatch(): boolean {
    return this.#allocator.allocationCount === this.#objects.size + this.#restoring.size;
  }

  /** Allocates (evicting if it helps) and records the entry; null if it cannot fit now. */
  #tryCreate(client: ClientSession, spec: CreateSpec): ObjectEntry | null {
    const total = spec.dataSize + spec.metadataSize;
    const offset = this.#allocateFor(total);
    if (offset === null) return null;
    const slot = this.#objects.add({
      key: spec.key,
      offset,
      dataSize: spec.dataSize,
      metadataSize: spec.metadataSize,
      allocatedBytes: this.#allocator.blockSizeBytes(offset),
      creatorClientId: client.id,
      createTimeMs: this.#clock.now(),
      createdAtMs: this.#clock.monotonicMs(),
    });
    const entry = this.#objects.entryAt(slot, spec.key);
    assert(
      entry.allocatedBytes >= total && offset + total <= this.capacityBytes,
      "the block fits the object",
    );
    assert(this.#allocationsMatch(), "one allocation per object or restore");
    assert(!client.held.has(spec.key) && !client.creating.has(spec.key), "a new object has no holder yet");
    client.held.add(spec.key);
    client.creating.add(spec.key);
    client.bytesCreated += total;
    this.#counters.creates++;
    this.#emit({ kind: "object_created", entry });
    return entry;
  }

  /**
   * Bytes the allocator could have free after evicting every evictable object, at most. The policy counts
   * an object's data + metadata, but its block is rounded up to the allocator's alignment (a 1-byte object
   * takes 64 bytes), so each evictable object may give back up to one alignment unit more than it counts.
   */
  #reclaimableBytesBound(): number {
    const policy = this.#policy;
    return (
      this.#allocator.freeBytes +
      this.#spillingBytes +
      policy.evictableBytes +
      policy.evictableCount * this.#allocator.alignmentBytes
    );
  }

  /** A waiting create's waitMs passed: it fails, and the creates behind it may fit now. */
  #createWaitExpired(pending: PendingCreate, waitedMs: number): void {
    const queue = this.#createQueue;
    const ahead = queue.indexOf(pending);
    if (!this.#removePendingCreate(pending)) return;
    this.#counters.storeFullErrors++;
    const first = ahead > 0 ? (queue[0] as PendingCreate) : undefined;
    pending.done(this.#storeFull(pending.spec, waitedMs, first === undefined ? 0 : ahead, first));
    if (ahead === 0) this.#serveCreateQueue();
  }

  /**
   * The error of a create that found no room; `ahead` waiting creates (the first of them `first`) were in
   * front of it in the FIFO queue when it gave up, which is then the reason given first.
   */
  #storeFull(spec: CreateSpec, waitedMs = 0, ahead = 0, first?: PendingCreate): StoreFullError {
    const total = spec.dataSize + spec.metadataSize;
    const waited = waitedMs > 0 ? ` after waiting ${waitedMs} ms` : "";
    const policy = this.#policy;
    const memory = `${this.#allocator.freeBytes} of ${this.capacityBytes} bytes free (largest free block ${this.#allocator.largestFreeBlockBytes}), ${policy.evictableCount} evictable objects of ${policy.evictableBytes} bytes`;
    if (first !== undefined && ahead > 0) {
      const firstBytes = first.spec.dataSize + first.spec.metadataSize;
      return new StoreFullError(
        `No room for object ${hexOf(spec.key)} of ${total} bytes${waited}: ${ahead} waiting ${ahead === 1 ? "create that came" : "creates that came"} first ${ahead === 1 ? "is" : "are"} ahead of it (the first, object ${hexOf(first.spec.key)}, needs ${firstBytes} bytes), and waiting creates are served strictly in arrival order so that a large one is not starved by small ones; ${memory}. Release or delete objects, create with waitMs 0 (it does not queue and takes memory free now), or start plasma_store with a larger -m.`,
      );
    }
    return new StoreFullError(
      `No room for object ${hexOf(spec.key)} of ${total} bytes${waited}: ${memory}. Release or delete objects, or start plasma_store with a larger -m.`,
    );
  }

  #serveCreateQueue(): void {
    const queue = this.#createQueue;
    while (queue.length > 0) {
      if (this.#serveFirst(queue[0] as PendingCreate)) continue;
      // Creates with waitMs 0 and restores wait only for spills in flight; none left: they fail.
      if (this.#spillingBytes > 0) return;
      const settled = queue.filter((pending) => pending.untilSpillsSettle);
      if (settled.length === 0) return;
      for (const pending of settled) {
        this.#removePendingCreate(pending);
        this.#failSettled(pending);
      }
    }
  }

  /** Serves the first waiting create or restore if it can be now; true when it left the queue. */
  #serveFirst(pending: PendingCreate): boolean {
    if (pending.restore !== null) {
      const offset = this.#allocateFor(pending.spec.dataSize + pending.spec.metadataSize);
      if (offset === null) return false;
      this.#removePendingCreate(pending);
      this.#launchRestore(pending.restore, offset);
      return true;
    }
    const client = this.#clients.get(pending.clientId);
    if (client === undefined) {
      this.#createQueue.shift();
      return true;
    }
    if (this.#objects.has(pending.spec.key) || this.#spilled.has(pending.spec.key)) {
      this.#removePendingCreate(pending);
      pending.done(
        new ObjectExistsError(
          `Object ${hexOf(pending.spec.key)} was created by another client while this create waited for memory.`,
        ),
      );
      return true;
    }
    const entry = this.#tryCreate(client, pending.spec);
    if (entry === null) return false;
    this.#removePendingCreate(pending);
    pending.done(entry);
    return true;
  }

  #failSettled(pending: PendingCreate): void {
    if (pending.restore !== null) {
      this.#restoreFailed(pending.restore.key, this.#restoreFull(pending.restore));
      return;
    }
    this.#counters.storeFullErrors++;
    pending.done(this.#storeFull(pending.spec));
  }

  #removePendingCreate(pending: PendingCreate): boolean {
    const index = this.#createQueue.indexOf(pending);
    if (index < 0) return false;
    this.#createQueue.splice(index, 1);
    const client = this.#clients.get(pending.clientId);
    if (client?.pendingCreates.delete(pending) === true) client.waitingBytes -= pending.costBytes;
    if (pending.timer !== null) this.#clock.clearTimeout(pending.timer);
    return true;
  }

  #dropPendingCreate(pending: PendingCreate): void {
    const index = this.#createQueue.indexOf(pending);
    if (index >= 0) this.#createQueue.splice(index, 1);
    if (pending.timer !== null) this.#clock.clearTimeout(pending.timer);
  }

  #grant(client: ClientSession, keys: readonly string[]): GetResult {
    const now = this.#clock.now();
    const table = this.#objects;
    const result: GetResult = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const slot = table.slotOf(key);
      if (slot < 0 || !table.isSealed(slot)) {
        this.#counters.getMisses++;
        result[i] = null;
        continue;
      }
      this.#counters.getHits++;
      const held = table.holdCount(slot, client.id);
      assert(client.held.has(key) === held > 0, "the client's held set matches the object's holders");
      if (held === 0) client.held.add(key);
      this.#policy.accessBegan(key);
      table.setHoldCount(slot, client.id, held + 1);
      table.touch(slot, now);
      result[i] = table.entryAt(slot, key);
    }
    return result;
  }

  #dropWaiter(waiter: GetWaiter): void {
    this.#waiters.remove(waiter);
    if (waiter.timer !== null) this.#clock.clearTimeout(waiter.timer);
  }

  /** The client stops holding the object entirely. */
  #dropHolder(client: ClientSession, slot: number, key: string): void {
    const table = this.#objects;
    assert(client.held.has(key) && table.holdCount(slot, client.id) > 0, "only a holder stops holding");
    table.setHoldCount(slot, client.id, 0);
    client.held.delete(key);
    if (table.refCount(slot) > 0) return;
    if (this.#spilling.has(key)) {
      // Its spill is in flight: spillFinished decides (delete, keep in memory, or free it).
    } else if (table.deletePendingAt(slot) && table.isSealed(slot)) {
      if (this.#mayFree(key)) this.#removeEntry(slot, key, "object_deleted");
    } else if (this.#shared?.isRetiring(key) !== true) {
      this.#policy.accessEnded(key);
    }
    this.#serveCreateQueue();
  }

  #releaseAll(client: ClientSession, slot: number, key: string): void {
    this.#counters.releases += this.#objects.holdCount(slot, client.id);
    this.#dropHolder(client, slot, key);
  }

  #abortEntry(client: ClientSession, slot: number, key: string): void {
    client.creating.delete(key);
    client.held.delete(key);
    this.#objects.setHoldCount(slot, client.id, 0);
    this.#counters.aborts++;
    this.#removeEntry(slot, key, "object_aborted");
  }

  /**
   * Victims for `bytes`: evictable copies a source made local first (oldest first: they can be fetched
   * again, objects created here cannot), then the policy's choice for the rest.
   */
  #chooseVictims(bytes: number): string[] {
    if (bytes <= 0 || this.#policy.name === "none") return this.#policy.chooseVictims(bytes);
    const table = this.#objects;
    const victims: string[] = [];
    let chosen = 0;
    for (const key of this.#sourceCopies) {
      if (chosen >= bytes) return victims;
      const slot = table.slotOf(key);
      if (slot < 0 || !table.isSealed(slot) || table.refCount(slot) > 0) continue;
      if (this.#spilling.has(key) || this.#shared?.isRetiring(key) === true) continue;
      victims.push(key);
      chosen += table.sizeAt(slot);
    }
    if (chosen >= bytes && victims.length > 0) return victims;
    // The policy's victims for all of `bytes` cover what the copies did not, once the copies are skipped.
    const skip = new Set(victims);
    for (const key of this.#policy.chooseVictims(bytes)) {
      if (chosen >= bytes) break;
      if (skip.has(key)) continue;
      victims.push(key);
      chosen += table.sizeAt(table.slotOf(key));
    }
    return victims;
  }

  /** A victim goes to disk when spilling is on, except a copy a source made local: that one is dropped. */
  #spillOrDrop(slot: number, key: string): void {
    if (this.#sourceCopies.has(key) || !this.#spillVictim(slot, key))
      this.#removeEntry(slot, key, "object_evicted");
  }

  #evict(bytes: number): number {
    let freed = 0;
    for (const key of this.#chooseVictims(bytes)) {
      const slot = this.#objects.slotOf(key);
      if (slot < 0 || !this.#mayFree(key)) continue;
      freed += this.#objects.sizeAt(slot);
      this.#spillOrDrop(slot, key);
    }
    return freed;
  }

  #removeEntry(
    slot: number,
    key: string,
    kind: "object_deleted" | "object_evicted" | "object_aborted",
  ): void {
    const table = this.#objects;
    assert(table.refCount(slot) === 0, "a removed object is not held");
    assert(table.isSealed(slot) === (kind !== "object_aborted"), "only unsealed objects are aborted");
    assert(
      this.#shared === null || (!this.#shared.isPublished(key) && !this.#shared.isRetiring(key)),
      "no client can reach a removed object through the directory",
    );
    this.#policy.objectRemoved(key);
    this.#sourceCopies.delete(key);
    this.#allocator.free(table.offsetAt(slot));
    const entry = table.remove(slot);
    assert(this.#allocationsMatch(), "one allocation per object or restore");
    if (kind === "object_evicted") {
      this.#counters.evictions++;
      this.#counters.evictedBytes += entry.dataSize + entry.metadataSize;
    } else if (kind === "object_deleted") {
      this.#counters.deletes++;
    }
    this.#emit({ kind, entry });
    if (entry.state === "sealed") this.#notify(entry, true);
  }

  /** Tells subscribers; the notification is built only once a client has subscribed. */
  #notify(entry: ObjectEntry, deleted: boolean): void {
    let note: NotificationWire | null = null;
    for (const client of this.#clients.values()) {
      if (client.subscriber === null) continue;
      note ??= notificationOf(entry, deleted);
      client.subscriber([note]);
    }
  }

  #emit(event: StoreEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}

/** The id of the core's own client (the largest the object table holds; connected ids count up from 1). */
export const SOURCE_CLIENT_ID = 0x7fff_ffff;

function systemSession(connectTimeMs: number): ClientSession {
  return newSession({ pid: 0, uid: 0, gid: 0 }, SOURCE_CLIENT_ID, connectTimeMs);
}

/** A client's session as it starts: holding nothing, waiting for nothing. */
function newSession(info: ClientInfo, id: number, connectTimeMs: number): ClientSession {
  return {
    ...info,
    id,
    connectTimeMs,
    held: new Set(),
    creating: new Set(),
    waiters: new Set(),
    pendingCreates: new Set(),
    subscriber: null,
    bytesCreated: 0,
    waitingBytes: 0,
  };
}

/** `pinned`: per client, the objects it pins through the directory and holds no store reference to. */
function statusOf(session: ClientSession, pinned?: ReadonlyMap<number, number>): ClientStatus {
  return {
    id: session.id,
    pid: session.pid,
    uid: session.uid,
    gid: session.gid,
    connectTimeMs: session.connectTimeMs,
    objectsHeld: session.held.size + (pinned?.get(session.id) ?? 0),
    objectsCreating: session.creating.size,
    waitingGets: session.waiters.size,
    waitingCreates: session.pendingCreates.size,
    bytesCreated: session.bytesCreated,
  };
}

/**
 * Throws LimitExceededError when the GetMetadata reply of these entries (u32 count; per entry u8 found,
 * then if found a blob of the metadata) would not fit one frame.
 */
function checkMetadataReplySize(result: GetResult): void {
  let replyBytes = U32_BYTES;
  let found = 0;
  for (const entry of result) {
    replyBytes += U8_BYTES;
    if (entry === null) continue;
    found++;
    replyBytes += U32_BYTES + entry.metadataSize;
  }
  if (replyBytes <= MAX_FRAME_BODY_BYTES) return;
  throw new LimitExceededError(
    `The metadata of the ${found} objects found makes a getMetadata reply of ${replyBytes} bytes, over the limit of one reply frame (${MAX_FRAME_BODY_BYTES} bytes); ask for fewer ids at a time.`,
  );
}

function notificationOf(entry: ObjectEntry, deleted: boolean): NotificationWire {
  return { id: entry.id, dataSize: entry.dataSize, metadataSize: entry.metadataSize, deleted };
}

export function hexOf(key: string): string {
  let hex = "";
  for (let i = 0; i < key.length; i++) hex += key.charCodeAt(i).toString(16).padStart(2, "0");
  return hex;
}

function asPlasmaError(error: unknown): PlasmaError {
  if (error instanceof PlasmaError) return error;
  return new PlasmaError(error instanceof Error ? error.message : String(error));
}
