import { checkCopyThreads, MAX_VIEW_BYTES, ParallelCopier } from "../ffi/index.ts";
import { type Logger, silentLogger } from "../log.ts";
import type { ByteReader } from "../protocol/bytes.ts";
import {
  AbortCodec,
  type ClusterNodeWire,
  ContainsCodec,
  CreateAndSealCodec,
  CreateCodec,
  DebugStringCodec,
  DeleteCodec,
  EvictCodec,
  GetCodec,
  GetMetadataCodec,
  HashCodec,
  ListCodec,
  LocateCodec,
  MAX_LOCATE_IDS,
  MessageType,
  NodesCodec,
  NotificationCodec,
  type ObjectLocation,
  type ObjectState,
  PinsReleasedCodec,
  ReleaseCodec,
  SealCodec,
  StoreInfoCodec,
  type StoreInfoWire,
  SubscribeCodec,
} from "../protocol/codecs/index.ts";
import { ObjectNotFoundError, PlasmaConnectionError, ProtocolError } from "../protocol/errors.ts";
import { MAX_INLINE_DATA_BYTES, MAX_TIMEOUT_MS } from "../protocol/limits.ts";
import { ObjectID } from "../protocol/object-id.ts";
import { ClientArena } from "./arena.ts";
import { Connection } from "./connection.ts";
import { DirectoryReads } from "./directory-reads.ts";
import { type Holding, ReferenceTable } from "./references.ts";
import { DEFAULT_MAX_QUEUED_NOTIFICATIONS, Subscription } from "./subscription.ts";
import type { Tensor } from "./values/tensor.ts";
import {
  decodeValue,
  type EncodedValue,
  encodeValue,
  isZeroCopyFormat,
  ObjectNotAvailable,
  readValueHeader,
  type ValueHeader,
} from "./values.ts";

/** A live node of the store's cluster, as client.nodes() lists it. */
export type ClusterNode = ClusterNodeWire;

export interface ConnectOptions {
  /** Further attempts when the store is not reachable yet (default 0: fail at once). */
  retries?: number;
  /** Pause between attempts (default 100 ms). */
  retryDelayMs?: number;
  /** Fault the whole arena mapping in at connect (MAP_POPULATE): first writes then run at memcpy speed. */
  populate?: boolean;
  /** A pino logger for the client's own warnings; default: silent. */
  logger?: Logger;
  /**
   * Threads that copy data into shared memory for put(), createAndSeal() and copyInto(), as Plasma's
   * `memcopy_threads`: the calling thread plus copyThreads - 1 worker threads, each copying a disjoint slice
   * of 8 MiB or more (default 1: no workers). Worth it for objects of tens of MiB and up on a machine with
   * the cores; the source must not be transferred or resized while the copy runs.
   */
  copyThreads?: number;
}

export interface GetOptions {
  /** Milliseconds to wait for objects not sealed yet: -1 (or Infinity) forever, the default; 0 no wait. */
  timeoutMs?: number;
}

export interface BufferWithMetadata {
  data: Uint8Array;
  metadata: Uint8Array;
}

export interface PutOptions {
  /** The object's id; default a random one. */
  id?: ObjectID;
  /** Your own metadata bytes, stored after the value's format line; read back with get(id, { withMeta: true }). */
  metadata?: Uint8Array;
}

/** What get(…, { withMeta: true }) returns for each object. */
export interface ValueWithMetadata {
  value: unknown;
  /** The metadata given to put() (for objects not written by put: all of the object's metadata), a copy. */
  metadata: Uint8Array;
}

export interface CreateOptions {
  /** Wait this long for memory others hold to be released instead of failing at once (-1 forever). */
  waitMs?: number;
}

export interface ObjectInfo {
  id: ObjectID;
  dataSize: number;
  metadataSize: number;
  refCount: number;
  /** Ms since the epoch, like Date.now(). */
  createTime: number;
  /** Ms from create to seal; -1 while unsealed. */
  constructDurationMs: number;
  state: ObjectState;
}

export interface ObjectNotification {
  id: ObjectID;
  dataSize: number;
  metadataSize: number;
  deleted: boolean;
}

export type StoreInfo = StoreInfoWire;

export interface SubscribeOptions {
  /**
   * Most unread notifications the subscription queues (default DEFAULT_MAX_QUEUED_NOTIFICATIONS): one
   * more ends it with a SubscriptionOverflowError, thrown by the iteration after the queued ones.
   */
  maxQueuedNotifications?: number;
}

const EMPTY = new Uint8Array(0);
/** What release() returns: it is settled at once, so one shared settled promise serves every call. */
const RELEASED: Promise<void> = Promise.resolve();

/** put() sends values up to this size inline (one round trip); larger ones go create + one copy + seal. */
const INLINE_PUT_MAX_BYTES = 256 * 1024;
/**
 * createAndSeal sends objects up to this size inside its one request frame (one round trip, two copies);
 * larger ones are written straight into shared memory (create + copy + seal: two round trips, one copy),
 * which bench/ measures as faster from a few tens of KiB on (the frame must cross the socket in pieces).
 */
const INLINE_CREATE_AND_SEAL_MAX_BYTES = Math.min(16 * 1024, MAX_INLINE_DATA_BYTES);

/** Connects to a plasma_store listening on `socketPath` (default /tmp/plasma). */
export async function connect(
  socketPath = "/tmp/plasma",
  options: ConnectOptions = {},
): Promise<PlasmaClient> {
  const retries = options.retries ?? 0;
  const retryDelayMs = options.retryDelayMs ?? 100;
  // Checked before connecting, so a bad value opens (and leaks) no connection.
  checkCopyThreads(options.copyThreads ?? 1);
  const log = options.logger ?? silentLogger;
  for (let attempt = 0; ; attempt++) {
    try {
      const connection = await Connection.open(socketPath, log);
      return new PlasmaClient(connection, options);
    } catch (error) {
      if (!(error instanceof PlasmaConnectionError) || attempt >= retries) throw error;
      await Bun.sleep(retryDelayMs);
    }
  }
}

/**
 * A connection to a plasma_store. Every method is async (one round trip, pipelined with others) unless
 * said otherwise. Buffers are zero-copy views on shared memory; see `getBuffers` for their lifetime.
 */
export class PlasmaClient {
  readonly socketPath: string;
  readonly #connection: Connection;
  readonly #arena: ClientArena;
  /** Gets, contains and releases served from the store's shared directory; null when it has none. */
  readonly #directory: DirectoryReads | null;
  readonly #references: ReferenceTable;
  readonly #subscriptions = new Set<Subscription>();
  #disconnected = false;
  #releasesScheduled = false;
  /** Worker threads for large copies (connect's copyThreads), or null for single-threaded copies. */
  readonly #copier: ParallelCopier | null;

  /** @internal use connect() */
  constructor(connection: Connection, options: ConnectOptions) {
    this.#connection = connection;
    this.#copier = (options.copyThreads ?? 1) > 1 ? new ParallelCopier(options.copyThreads ?? 1) : null;
    this.socketPath = connection.socketPath;
    this.#arena = new ClientArena(connection.arenaFd, connection.welcome.arenaBytes, {
      populate: options.populate,
    });
    const fds = connection.directoryFds;
    this.#directory = fds === null ? null : DirectoryReads.open(fds);
    this.#references = new ReferenceTable(() => this.#scheduleReleases());
    // Grants waiting to go back travel ahead of every request, so the store applies them first.
    connection.beforeRequest(() => this.#sendReleases());
    connection.onClose((error) => this.#closed(error));
  }

  /** The store's capacity in bytes (what plasma_store -m was given). Synchronous. */
  get capacityBytes(): number {
    return this.#connection.welcome.capacityBytes;
  }

  /**
   * True when the store serves this client read-only (its uid is on --read-only-uid): it may get, read
   * and subscribe; create, seal, abort, delete and evict fail with AccessDeniedError.
   */
  get readOnly(): boolean {
    return this.#connection.welcome.readOnly;
  }

  /** The store-assigned id of this client. */
  get clientId(): number {
    return this.#connection.welcome.clientId;
  }

  // ------------------------------------------------------------------ create / seal / abort

  /**
   * Creates an unsealed object of `dataSize` bytes (plus `metadata`) and returns a writable view of its
   * data in shared memory. Write it, then `seal` (or `abort`). Throws ObjectExistsError, StoreFullError,
   * and RangeError for objects larger than one view can map (4 GiB).
   */
  async create(
    id: ObjectID,
    dataSize: number,
    metadata: Uint8Array = EMPTY,
    options: CreateOptions = {},
  ): Promise<Uint8Array> {
    checkSize(dataSize, "dataSize");
    this.#arenaCanView(dataSize + metadata.length);
    const idBytes = id.bytes;
    const reply = await this.#connection.request(MessageType.Create, CreateCodec.encodeRequest, {
      id: idBytes,
      dataSize,
      metadata,
      waitMs: timeoutArg(options.waitMs ?? 0, "waitMs"),
    });
    const location = CreateCodec.decodeReply(reply);
    const buffer = this.#arena.writableView(location.offset, location.dataSize);
    this.#references.created(id.key, idBytes, location, buffer);
    return new Uint8Array(buffer);
  }

  /**
   * Seals an object this client created: it becomes immutable and visible to every client. The buffer
   * create() returned is detached as seal() is called (length 0 from then on, writes through it are
   * no-ops): read the object back with getBuffers() if needed. See docs/security.md.
   */
  async seal(id: ObjectID): Promise<void> {
    await this.#requestSeal(id);
    this.#references.sealed(id.key);
  }

  /** Drops an unsealed object this client created; the id can be created again. */
  async abort(id: ObjectID): Promise<void> {
    const reply = await this.#connection.request(MessageType.Abort, AbortCodec.encodeRequest, id.bytes);
    AbortCodec.decodeReply(reply);
    this.#references.aborted(id.key);
  }

  /** Creates and seals an object holding a copy of `data`, in one round trip; holds no reference after. */
  async createAndSeal(id: ObjectID, data: Uint8Array, metadata: Uint8Array = EMPTY): Promise<void> {
    if (data.length + metadata.length > INLINE_CREATE_AND_SEAL_MAX_BYTES) {
      await this.#createFillSeal(id, data.length, metadata, (buffer) => this.copyInto(buffer, data));
      return;
    }
    const reply = await this.#connection.request(
      MessageType.CreateAndSeal,
      CreateAndSealCodec.encodeRequest,
      {
        id: id.bytes,
        metadata,
        data,
      },
    );
    CreateAndSealCodec.decodeReply(reply);
  }

  // ------------------------------------------------------------------ get / release

  /**
   * Waits for the objects to be sealed (up to timeoutMs) and returns a zero-copy, read-only view of each
   * one's data, or null where it did not appear in time. Each buffer holds one reference to its object,
   * tied to its ArrayBuffer: it ends at `release(id)` or when that ArrayBuffer is garbage-collected. Do not
   * use a buffer after releasing it: the memory may be reused. Never write into it.
   */
  getBuffers(
    ids: readonly ObjectID[],
    options?: GetOptions & { withMeta?: false },
  ): Promise<(Uint8Array | null)[]>;
  getBuffers(
    ids: readonly ObjectID[],
    options: GetOptions & { withMeta: true },
  ): Promise<(BufferWithMetadata | null)[]>;
  getBuffers(
    ids: readonly ObjectID[],
    options: GetOptions & { withMeta?: boolean } = {},
  ): Promise<(Uint8Array | BufferWithMetadata | null)[]> {
    // Not async: a get this client can serve itself (held, or pinned through the shared directory) costs
    // one settled promise, not the two async frames and their microtask hops a get through the store needs.
    try {
      if (ids.length === 1) {
        const id = ids[0] as ObjectID;
        if (options.timeoutMs !== undefined) timeoutArg(options.timeoutMs, "timeoutMs");
        const local = this.#heldSealed(id.key) ?? this.#pinned(id);
        if (local !== undefined) return Promise.resolve([this.#buffer(local, options.withMeta === true)]);
        return this.#getOneFromStore(id, options);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#getMany(ids, options);
  }

  async #getOneFromStore(
    id: ObjectID,
    options: GetOptions & { withMeta?: boolean },
  ): Promise<(Uint8Array | BufferWithMetadata | null)[]> {
    const holding = await this.#requestOne(id, options);
    return [holding === null ? null : this.#buffer(holding, options.withMeta === true)];
  }

  async #getMany(
    ids: readonly ObjectID[],
    options: GetOptions & { withMeta?: boolean },
  ): Promise<(Uint8Array | BufferWithMetadata | null)[]> {
    const withMeta = options.withMeta === true;
    const holdings = await this.#acquire(ids, options);
    return holdings.map((holding) => (holding === null ? null : this.#buffer(holding, withMeta)));
  }

  /** A get of one object neither held nor pinnable here: the store answers (or null after timeoutMs). */
  async #requestOne(id: ObjectID, options: GetOptions): Promise<Holding | null> {
    const timeoutMs = timeoutArg(options.timeoutMs ?? -1, "timeoutMs");
    const key = id.key;
    const idBytes = id.bytes;
    const reply = await this.#connection.request(
      MessageType.Get,
      timeoutMs === 0
        ? GetCodec.encodeRequestOneNow
        : (out, requestId) => GetCodec.encodeRequestOne(out, requestId, idBytes, timeoutMs),
      idBytes,
    );
    const location = GetCodec.decodeReplyOne(reply);
    return location === null ? null : this.#references.granted(key, idBytes, location);
  }

  /**
   * The objects' holdings: held already, or granted by the store now (null where absent after timeoutMs).
   * A holding granted here has no local reference yet: the caller attaches one or settles it.
   */
  async #acquire(ids: readonly ObjectID[], options: GetOptions): Promise<(Holding | null)[]> {
    const timeoutMs = timeoutArg(options.timeoutMs ?? -1, "timeoutMs");
    const results: (Holding | null)[] = new Array(ids.length).fill(null);
    const missing: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as ObjectID;
      const holding = this.#heldSealed(id.key) ?? this.#pinned(id);
      if (holding !== undefined) results[i] = holding;
      else missing.push(i);
    }
    if (missing.length === 0) return results;
    const missingIds = missing.map((i) => (ids[i] as ObjectID).bytes);
    const reply = await this.#connection.request(MessageType.Get, GetCodec.encodeRequest, {
      ids: missingIds,
      timeoutMs,
    });
    const entries = GetCodec.decodeReply(reply, missing.length);
    for (let j = 0; j < missing.length; j++) {
      const entry = entries[j];
      if (entry === null || entry === undefined) continue;
      const index = missing[j] as number;
      const id = ids[index] as ObjectID;
      results[index] = this.#references.granted(id.key, id.bytes, entry);
    }
    return results;
  }

  /**
   * Copies of the objects' metadata (null where absent after timeoutMs); takes no reference. Throws
   * LimitExceededError when the metadata found does not fit one reply frame (64 MiB): ask for fewer ids.
   */
  async getMetadata(ids: readonly ObjectID[], options: GetOptions = {}): Promise<(Uint8Array | null)[]> {
    const timeoutMs = timeoutArg(options.timeoutMs ?? -1, "timeoutMs");
    const reply = await this.#connection.request(MessageType.GetMetadata, GetMetadataCodec.encodeRequest, {
      ids: ids.map((id) => id.bytes),
      timeoutMs,
    });
    return GetMetadataCodec.decodeReply(reply, ids.length, this.#connection.welcome.maxMetadataBytes);
  }

  /**
   * Ends one outstanding reference of this client to the object: one whose buffer was already
   * garbage-collected (its reference ended then, so this only accounts for it), else the oldest live
   * buffer's. Throws ObjectNotFoundError when this client has none: more releases than gets (and seals of
   * its own creates). Resolves once the request is queued.
   */
  release(id: ObjectID): Promise<void> {
    // Not async (like getBuffers): a release is local, and costs one settled promise.
    try {
      if (this.#references.releaseOne(id.key)) {
        this.#unpinIfIdle(id.key);
        return RELEASED;
      }
      throw new ObjectNotFoundError(`This client holds no reference to ${id}; nothing to release.`);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** An explicit release that left only a directory pin: unpin at once (the store may need the memory). */
  #unpinIfIdle(key: string): void {
    const holding = this.#references.takeIdlePinOnly(key);
    if (holding === undefined || holding.pin === null) return;
    const storeWaits = this.#directory?.release(holding.pin) === true;
    holding.pin = null;
    if (storeWaits) this.#connection.send((out) => PinsReleasedCodec.encodeRequestNoReply(out));
  }

  // ------------------------------------------------------------------ queries

  /** True when the object is in the store and sealed. */
  async contains(id: ObjectID): Promise<boolean> {
    if (this.#directory?.contains(id.bytes) === true) return true;
    const reply = await this.#connection.request(MessageType.Contains, ContainsCodec.encodeRequest, id.bytes);
    return ContainsCodec.decodeReply(reply);
  }

  /**
   * Deletes objects: sealed ones nobody uses go now, the rest when their last reference is released.
   * Unknown ids are ignored. Returns how many were deleted at once.
   */
  async delete(idOrIds: ObjectID | readonly ObjectID[]): Promise<number> {
    const ids = Array.isArray(idOrIds) ? (idOrIds as readonly ObjectID[]) : [idOrIds as ObjectID];
    const reply = await this.#connection.request(
      MessageType.Delete,
      DeleteCodec.encodeRequest,
      ids.map((id) => id.bytes),
    );
    return DeleteCodec.decodeReply(reply);
  }

  /** Evicts sealed, unused objects in policy order until at least `bytes` are freed; returns bytes freed. */
  async evict(bytes: number): Promise<number> {
    checkSize(bytes, "bytes");
    const reply = await this.#connection.request(MessageType.Evict, EvictCodec.encodeRequest, bytes);
    return EvictCodec.decodeReply(reply);
  }

  /** XXH64 of the object's data then metadata, as 8 bytes (big-endian), computed by the store on demand. */
  async hash(id: ObjectID): Promise<Uint8Array> {
    const reply = await this.#connection.request(MessageType.Hash, HashCodec.encodeRequest, id.bytes);
    return HashCodec.decodeReply(reply);
  }

  /** Every object in the store (a snapshot: the store sends a long list in several frames, made at once). */
  async list(): Promise<ObjectInfo[]> {
    const objects: ObjectInfo[] = [];
    const collect = (body: ByteReader): void => {
      for (const o of ListCodec.decodeReply(body)) objects.push({ ...o, id: new ObjectID(o.id) });
    };
    collect(await this.#connection.requestParts(MessageType.List, ListCodec.encodeRequest, collect));
    return objects;
  }

  /** The store's capacity in bytes. */
  async storeCapacity(): Promise<number> {
    return (await this.storeInfo()).capacityBytes;
  }

  /** Capacity, used bytes, object and client counts. */
  async storeInfo(): Promise<StoreInfo> {
    const reply = await this.#connection.request(MessageType.StoreInfo, StoreInfoCodec.encodeRequest);
    return StoreInfoCodec.decodeReply(reply);
  }

  /**
   * Per id, the names of the cluster nodes whose stores hold it (from the directory; [] for an id held
   * nowhere), in the order asked. Rejects with ClusterOffError on a store without --cluster-etcd, and a
   * PlasmaError coded CLUSTER_UNAVAILABLE while etcd does not answer.
   */
  async locate(ids: readonly ObjectID[]): Promise<string[][]> {
    const holders: string[][] = [];
    for (let start = 0; start < ids.length; start += MAX_LOCATE_IDS) {
      const batch = ids.slice(start, start + MAX_LOCATE_IDS).map((id) => id.bytes);
      const reply = await this.#connection.request(MessageType.Locate, LocateCodec.encodeRequest, batch);
      const answer = LocateCodec.decodeReply(reply);
      if (answer.length !== batch.length) {
        throw new ProtocolError(`Locate reply has ${answer.length} entries for ${batch.length} ids.`);
      }
      holders.push(...answer);
    }
    return holders;
  }

  /** The live nodes of the store's cluster (name, transfer address, capacity, used bytes); see locate. */
  async nodes(): Promise<ClusterNode[]> {
    const reply = await this.#connection.request(MessageType.Nodes, NodesCodec.encodeRequest);
    return NodesCodec.decodeReply(reply);
  }

  /** A human-readable summary of the store. */
  async debugString(): Promise<string> {
    const reply = await this.#connection.request(MessageType.DebugString, DebugStringCodec.encodeRequest);
    return DebugStringCodec.decodeReply(reply);
  }

  /**
   * Notifications of sealed objects (those already sealed first, in seal order) and of deletions and
   * evictions (`deleted: true`), in order. Resolves once the store has registered the subscriber.
   *
   * Unread notifications queue in this process, at most `options.maxQueuedNotifications` of them
   * (default DEFAULT_MAX_QUEUED_NOTIFICATIONS, 1,000,000, about 190 MB): a subscriber that falls further
   * behind loses its subscription, not silently some notifications. The iteration yields what was queued,
   * then throws SubscriptionOverflowError; subscribe again to resume (the new subscription starts with
   * every object sealed by then). The first batch (the objects already sealed) counts too: raise the
   * bound for a store holding more sealed objects than it.
   */
  async subscribe(options: SubscribeOptions = {}): Promise<AsyncIterable<ObjectNotification>> {
    const maxQueued = options.maxQueuedNotifications ?? DEFAULT_MAX_QUEUED_NOTIFICATIONS;
    if (!Number.isSafeInteger(maxQueued) || maxQueued < 1)
      throw new RangeError(`maxQueuedNotifications must be a positive integer, got ${maxQueued}.`);
    const subscription = new Subscription(() => this.#subscriptions.delete(subscription), maxQueued);
    this.#subscriptions.add(subscription);
    try {
      const reply = await this.#connection.requestStream(
        MessageType.Subscribe,
        SubscribeCodec.encodeRequest,
        (body: ByteReader) => {
          if (!subscription.accepting) return;
          for (const note of NotificationCodec.decode(body))
            subscription.push({ ...note, id: new ObjectID(note.id) });
        },
      );
      SubscribeCodec.decodeReply(reply);
    } catch (error) {
      this.#subscriptions.delete(subscription);
      throw error;
    }
    return subscription;
  }

  // ------------------------------------------------------------------ values

  /**
   * Stores a value and returns its id (a random one unless `options.id` is given). Typed arrays and
   * ArrayBuffers are stored raw, Tensors with writeTensor, Arrow Tables and RecordBatches as an IPC
   * stream, written straight into shared memory (one copy); any other structured-cloneable value by
   * structured clone. Throws InvalidValueError for values it cannot store (nothing is stored then).
   */
  async put(value: unknown, options: PutOptions = {}): Promise<ObjectID> {
    const id = options.id ?? ObjectID.fromRandom();
    await this.#putEncoded(id, encodeValue(value, options.metadata));
    return id;
  }

  /** put() of a Tensor (type-checked); get() returns it as a Tensor whose data is a view on shared memory. */
  async putTensor(tensor: Tensor, options: PutOptions = {}): Promise<ObjectID> {
    return this.put(tensor, options);
  }

  /**
   * Reads values stored with put: `ObjectNotAvailable` where an object did not appear in time. Typed
   * arrays, ArrayBuffers, Tensors and Arrow Tables come back as zero-copy, read-only views on shared
   * memory: each keeps its object referenced while it is reachable (or until release(id)); never write into
   * them (the mapping is read-only: a write kills the process with SIGSEGV). Structured-clone values are
   * copies and hold nothing. Objects not written by put come back as a copy of their data bytes.
   * Throws ValueFormatError for an object whose stored bytes do not match its format.
   */
  get(id: ObjectID, options?: GetOptions & { withMeta?: false }): Promise<unknown>;
  get(ids: readonly ObjectID[], options?: GetOptions & { withMeta?: false }): Promise<unknown[]>;
  get(
    id: ObjectID,
    options: GetOptions & { withMeta: true },
  ): Promise<ValueWithMetadata | ObjectNotAvailable>;
  get(
    ids: readonly ObjectID[],
    options: GetOptions & { withMeta: true },
  ): Promise<(ValueWithMetadata | ObjectNotAvailable)[]>;
  async get(
    idOrIds: ObjectID | readonly ObjectID[],
    options: GetOptions & { withMeta?: boolean } = {},
  ): Promise<unknown> {
    const single = !Array.isArray(idOrIds);
    const ids = single ? [idOrIds as ObjectID] : (idOrIds as readonly ObjectID[]);
    const holdings = await this.#acquire(ids, options);
    const values: unknown[] = [];
    try {
      for (const holding of holdings) {
        if (holding === null) {
          values.push(ObjectNotAvailable);
          continue;
        }
        const loc = holding.location;
        // The holding keeps the object alive while we read: no local reference is needed for a peek.
        const metadata = new Uint8Array(
          this.#arena.readOnlyView(loc.offset + loc.dataSize, loc.metadataSize),
        );
        const header: ValueHeader | null = readValueHeader(metadata);
        let value: unknown;
        if (header !== null && isZeroCopyFormat(header.format) && loc.dataSize > 0) {
          const buffer = this.#arena.readOnlyView(loc.offset, loc.dataSize);
          value = decodeValue(header, new Uint8Array(buffer));
          this.#references.attach(holding, buffer);
        } else {
          value = decodeValue(header, new Uint8Array(this.#arena.readOnlyView(loc.offset, loc.dataSize)));
        }
        values.push(
          options.withMeta === true
            ? { value, metadata: header === null ? metadata.slice() : header.userMetadata }
            : value,
        );
      }
    } finally {
      // Objects that no returned value points into go back to the store now.
      for (const holding of holdings) if (holding !== null) this.#references.settle(holding);
    }
    return single ? values[0] : values;
  }

  async #putEncoded(id: ObjectID, encoded: EncodedValue): Promise<void> {
    // Small values ride inline in one round trip; larger ones are copied once, straight into shared memory.
    if (encoded.bytes !== null && encoded.dataSize <= INLINE_PUT_MAX_BYTES) {
      await this.createAndSeal(id, encoded.bytes, encoded.metadata);
      return;
    }
    const bytes = encoded.bytes;
    await this.#createFillSeal(id, encoded.dataSize, encoded.metadata, (buffer) =>
      bytes !== null ? this.copyInto(buffer, bytes) : encoded.writeInto(buffer),
    );
  }

  /**
   * create, `fill` the buffer (abort if it throws), then seal keeping no reference, whether or not the
   * creator's buffer was garbage-collected meanwhile (a seal followed by release() would throw if it was).
   */
  async #createFillSeal(
    id: ObjectID,
    dataSize: number,
    metadata: Uint8Array,
    fill: (buffer: Uint8Array) => Promise<void> | void,
  ): Promise<void> {
    const buffer = await this.create(id, dataSize, metadata);
    try {
      await fill(buffer);
    } catch (error) {
      await this.abort(id);
      throw error;
    }
    await this.#requestSeal(id);
    this.#references.sealedAndDropped(id.key);
  }

  async #requestSeal(id: ObjectID): Promise<void> {
    // No write after this point can reach what readers will see (docs/security.md).
    const creatorBuffer = this.#references.get(id.key)?.creatorBuffer?.deref();
    if (creatorBuffer !== undefined) this.#arena.detachWritable(creatorBuffer);
    const reply = await this.#connection.request(MessageType.Seal, SealCodec.encodeRequest, id.bytes);
    SealCodec.decodeReply(reply);
  }

  // ------------------------------------------------------------------ lifetime

  /**
   * Copies `source` into the start of `target` (typically a buffer from create()), split across the
   * connection's copyThreads when it is large enough; a plain `target.set(source)` otherwise. Do not
   * transfer or resize either buffer until it resolves.
   */
  async copyInto(target: Uint8Array, source: Uint8Array): Promise<void> {
    if (target.length < source.length) {
      throw new RangeError(
        `copyInto: the target (${target.length} bytes) is shorter than the source (${source.length} bytes).`,
      );
    }
    if (this.#copier === null || this.#disconnected) target.set(source);
    else await this.#copier.copy(target, source);
  }

  /** Closes the connection; the store releases everything this client held. Buffers must not be used after. */
  async disconnect(): Promise<void> {
    if (this.#disconnected) return;
    this.#connection.close();
    this.#teardown();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.disconnect();
  }

  /**
   * µs this client keeps polling for a reply before its event loop may sleep: the store advises it while it
   * has fewer clients than CPUs, 0 otherwise (PLASMA_CLIENT_POLL_US caps it; 0 turns it off).
   */
  get pollWindowUs(): number {
    return this.#connection.pollWindowUs;
  }

  /** Number of objects this client holds references to (for tests and debugging). */
  get heldObjectCount(): number {
    return this.#references.size;
  }

  // ------------------------------------------------------------------ internals

  #buffer(holding: Holding, withMeta: boolean): Uint8Array | BufferWithMetadata {
    const loc: ObjectLocation = holding.location;
    const buffer = this.#arena.readOnlyView(
      loc.offset,
      withMeta ? loc.dataSize + loc.metadataSize : loc.dataSize,
    );
    this.#references.attach(holding, buffer);
    const data = new Uint8Array(buffer, 0, loc.dataSize);
    if (!withMeta) return data;
    return { data, metadata: new Uint8Array(buffer, loc.dataSize, loc.metadataSize) };
  }

  #scheduleReleases(): void {
    if (this.#releasesScheduled) return;
    this.#releasesScheduled = true;
    setImmediate(() => {
      this.#releasesScheduled = false;
      this.#sendReleases();
    });
  }

  /** A sealed object this client holds already: a get of it is served here, and counted as a use. */
  #heldSealed(key: string): Holding | undefined {
    const held = this.#references.heldSealed(key);
    return held === undefined ? undefined : this.#used(held);
  }

  /**
   * A get served from a holding this client has: when it is pinned through the directory, the store's
   * LRU/LFU hear of the use through the access ring (a store grant's reuse is not seen: as before).
   */
  #used(holding: Holding): Holding {
    if (holding.pin !== null) this.#directory?.recordUse(holding.pin);
    return holding;
  }

  /** A holding pinned through the shared directory, or undefined (ask the store). */
  #pinned(id: ObjectID): Holding | undefined {
    // A holding of the object already (the same id twice in one get, or this client's own create being
    // sealed): never a second one beside it. The store's grant joins an unsealed one (granted).
    const existing = this.#references.get(id.key);
    if (existing !== undefined) return existing.sealed ? this.#used(existing) : undefined;
    const direct = this.#directory?.acquire(id.bytes);
    return direct == null
      ? undefined
      : this.#references.pinned(id.key, id.bytes, direct.location, direct.pin);
  }

  /**
   * Gives the grants of every idle holding back, one Release frame each, and drops its directory pin (with
   * one PinsReleased frame if the store was waiting for any of them).
   */
  #sendReleases(): void {
    if (this.#connection.closed || this.#references.idleCount === 0) return;
    const idle = this.#references.takeIdle();
    let storeWaits = false;
    let grants = 0;
    for (const holding of idle) {
      grants += holding.storeGrants;
      if (holding.pin === null) continue;
      if (this.#directory?.release(holding.pin) === true) storeWaits = true;
      holding.pin = null;
    }
    if (grants === 0 && !storeWaits) return;
    this.#connection.send((out) => {
      for (const holding of idle) {
        if (holding.storeGrants > 0) ReleaseCodec.encodeRequestNoReply(out, holding.id, holding.storeGrants);
      }
      if (storeWaits) PinsReleasedCodec.encodeRequestNoReply(out);
    });
  }

  #arenaCanView(totalBytes: number): void {
    if (totalBytes > this.#connection.welcome.arenaBytes) return; // the store answers StoreFullError
    if (totalBytes > MAX_VIEW_BYTES) {
      throw new RangeError(
        `An object of ${totalBytes} bytes is larger than the largest view Bun can map (4 GiB = ${MAX_VIEW_BYTES} bytes); split it into several objects.`,
      );
    }
  }

  #closed(error: PlasmaConnectionError): void {
    for (const subscription of this.#subscriptions) subscription.fail(error);
    this.#subscriptions.clear();
    this.#teardown();
  }

  #teardown(): void {
    if (this.#disconnected) return;
    this.#disconnected = true;
    this.#copier?.close();
    this.#references.clear();
    this.#directory?.close();
    this.#arena.close();
  }
}

function checkSize(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError(`${what} must be a non-negative integer, got ${value}.`);
}

function timeoutArg(ms: number, what: string): number {
  if (ms === Number.POSITIVE_INFINITY || ms === -1) return -1;
  if (!Number.isInteger(ms) || ms < 0)
    throw new RangeError(`${what} must be -1, Infinity or a non-negative integer of ms, got ${ms}.`);
  return Math.min(ms, MAX_TIMEOUT_MS);
}
