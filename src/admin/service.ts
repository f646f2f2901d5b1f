import { hostname } from "node:os";
import { PlasmaError } from "../protocol/errors.ts";
import { EVICTION_POLICY_NAMES, isEvictionPolicyName } from "../store/eviction/policy.ts";
import type { ObjectEntry } from "../store/object-table.ts";
import type { StoreCounters } from "../store/stats.ts";
import { type ClientStatus, hexOf, type StoreCore, type StoreEvent } from "../store/store.ts";
import { ClusterAdmin } from "./cluster-service.ts";
import type { ClusterAdminView } from "./cluster-view.ts";
import {
  AdminFailedPreconditionError,
  AdminInvalidArgumentError,
  AdminNotFoundError,
  AdminResourceExhaustedError,
} from "./errors.ts";
import { type SpillStatsView, spillStatsView } from "./spill-view.ts";

export type { SpillStatsView } from "./spill-view.ts";

/**
 * What the admin plane reports and does, over the store core, as plain objects. The gRPC and HTTP edges
 * translate these; field names are the camelCase of admin.proto's fields. Nothing here blocks: every
 * method is a synchronous read or a single core call.
 */

export type ObjectStateName = "OBJECT_STATE_CREATED" | "OBJECT_STATE_SEALED" | "OBJECT_STATE_SPILLED";
export type OrderByName = "ORDER_BY_CREATE_TIME" | "ORDER_BY_SIZE" | "ORDER_BY_LAST_ACCESS";
export type EventKindName =
  | "EVENT_KIND_OBJECT_CREATED"
  | "EVENT_KIND_OBJECT_SEALED"
  | "EVENT_KIND_OBJECT_ABORTED"
  | "EVENT_KIND_OBJECT_DELETED"
  | "EVENT_KIND_OBJECT_EVICTED"
  | "EVENT_KIND_CLIENT_CONNECTED"
  | "EVENT_KIND_CLIENT_DISCONNECTED"
  | "EVENT_KIND_POLICY_CHANGED";

export const EVENT_KIND_NAMES: readonly EventKindName[] = [
  "EVENT_KIND_OBJECT_CREATED",
  "EVENT_KIND_OBJECT_SEALED",
  "EVENT_KIND_OBJECT_ABORTED",
  "EVENT_KIND_OBJECT_DELETED",
  "EVENT_KIND_OBJECT_EVICTED",
  "EVENT_KIND_CLIENT_CONNECTED",
  "EVENT_KIND_CLIENT_DISCONNECTED",
  "EVENT_KIND_POLICY_CHANGED",
];

export interface AdminEndpointsView {
  grpc: string;
  http: string;
  tokenRequired: boolean;
  readOnly: boolean;
}

export interface ArenaMemoryView {
  reservedBytes: number;
  faultedBytes: number;
  prefaulted: boolean;
}

export interface StoreInfoView {
  version: string;
  pid: number;
  hostname: string;
  socketPath: string;
  capacityBytes: number;
  arenaBytes: number;
  backing: string;
  backingPath: string;
  hugePages: boolean;
  pageSizeBytes: number;
  startTimeMs: number;
  uptimeSeconds: number;
  evictionPolicy: string;
  admin: AdminEndpointsView;
  reservedBytes: number;
  faultedBytes: number;
  prefaulted: boolean;
}

/** The store's counters since start, as the admin plane shows them (the same fields as the core keeps). */
export type CountersView = StoreCounters;

export interface StatsView {
  capacityBytes: number;
  usedBytes: number;
  freeBytes: number;
  largestFreeBlockBytes: number;
  fragmentation: number;
  objectsCreated: number;
  objectsSealed: number;
  bytesCreated: number;
  bytesSealed: number;
  evictableObjects: number;
  evictableBytes: number;
  connectedClients: number;
  waitingGets: number;
  waitingCreates: number;
  counters: CountersView;
  evictionPolicy: string;
  /** Spilling (issue 16); null when the store runs without a spill directory. */
  spill: SpillStatsView | null;
}

export interface ObjectInfoView {
  id: string;
  dataSizeBytes: number;
  metadataSizeBytes: number;
  allocatedBytes: number;
  state: ObjectStateName;
  refCount: number;
  createTimeMs: number;
  constructDurationMs: number;
  lastAccessTimeMs: number;
  accessCount: number;
  deletePending: boolean;
  metadata: Uint8Array;
  metadataTruncated: boolean;
}

export interface ObjectSummaryView {
  id: string;
  dataSizeBytes: number;
  metadataSizeBytes: number;
  state: ObjectStateName;
}

export interface ClientView {
  clientId: number;
  pid: number;
  uid: number;
  gid: number;
  connectTimeMs: number;
  objectsHeld: number;
  referencesHeld: number;
  bytesCreated: number;
  pendingGets: number;
  pendingCreates: number;
  objectsCreating: number;
}

export interface EvictionPolicyView {
  name: string;
  available: string[];
  evictableObjects: number;
  evictableBytes: number;
  previous: string;
}

export interface EventView {
  sequence: number;
  kind: EventKindName;
  timeMs: number;
  object: ObjectSummaryView | null;
  client: ClientView | null;
  policyFrom: string;
  policyTo: string;
}

export interface ListObjectsQuery {
  pageSize?: number;
  pageToken?: string;
  state?: ObjectStateName | "OBJECT_STATE_UNSPECIFIED";
  minSizeBytes?: number;
  maxSizeBytes?: number;
  idPrefix?: string;
  orderBy?: OrderByName;
  descending?: boolean;
  metadataLimitBytes?: number;
}

export interface ListObjectsView {
  objects: ObjectInfoView[];
  nextPageToken: string;
  totalCount: number;
}

export interface DeleteObjectsView {
  deleted: string[];
  pending: string[];
  notFound: string[];
}

export interface EvictView {
  freedBytes: number;
  evicted: ObjectSummaryView[];
}

/** An object held for reading by the admin plane; close() gives the reference back. */
export interface HeldObject {
  readonly id: string;
  readonly dataSizeBytes: number;
  /** A copy of data bytes [offset, offset + length). Throws once the store stopped. */
  read(offset: number, length: number): Uint8Array;
  close(): void;
}

export interface AdminServiceOptions {
  core: StoreCore;
  version: string;
  socketPath: string;
  arena: {
    sizeBytes: number;
    backing: string;
    path: string | null;
    hugePages: boolean;
    pageSizeBytes: number;
  };
  startTimeMs: number;
  /** A copy of arena bytes; must throw once the arena is unmapped. */
  readArena(offset: number, length: number): Uint8Array;
  /** The arena's memory accounting now (reserved and resident bytes). */
  memory(): ArenaMemoryView;
  endpoints(): AdminEndpointsView;
  /** The cluster, when the store runs with --cluster-etcd. */
  cluster?: ClusterAdminView;
}

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;
export const MAX_CHUNK_BYTES = 4 * 1024 * 1024;
/** Events a WatchEvents consumer may leave unread before its stream is ended. */
export const MAX_QUEUED_EVENTS = 100_000;

const ID_HEX = /^[0-9a-fA-F]{40}$/;
const HEX_PREFIX = /^[0-9a-fA-F]{0,40}$/;

/** Parses 40 hex digits into the core's table key; INVALID_ARGUMENT otherwise. */
export function keyOfHex(id: string): string {
  if (typeof id !== "string" || !ID_HEX.test(id)) {
    throw new AdminInvalidArgumentError(
      `Object id ${JSON.stringify(String(id).slice(0, 64))} is not 40 hex digits (20 bytes).`,
    );
  }
  let key = "";
  for (let i = 0; i < 40; i += 2) key += String.fromCharCode(Number.parseInt(id.slice(i, i + 2), 16));
  return key;
}

function stateName(entry: ObjectEntry): ObjectStateName {
  if (entry.state === "spilled") return "OBJECT_STATE_SPILLED";
  return entry.state === "sealed" ? "OBJECT_STATE_SEALED" : "OBJECT_STATE_CREATED";
}

function summaryOf(entry: ObjectEntry): ObjectSummaryView {
  return {
    id: hexOf(entry.key),
    dataSizeBytes: entry.dataSize,
    metadataSizeBytes: entry.metadataSize,
    state: stateName(entry),
  };
}

function clientOf(status: ClientStatus, referencesHeld = 0): ClientView {
  return {
    clientId: status.id,
    pid: status.pid,
    uid: status.uid,
    gid: status.gid,
    connectTimeMs: status.connectTimeMs,
    objectsHeld: status.objectsHeld,
    referencesHeld,
    bytesCreated: status.bytesCreated,
    pendingGets: status.waitingGets,
    pendingCreates: status.waitingCreates,
    objectsCreating: status.objectsCreating,
  };
}

/** Spill events (object_spilled, object_restored, spill_*) are not in the event stream: metrics count them. */
const EVENT_KIND_OF: Partial<Record<StoreEvent["kind"], EventKindName>> = {
  object_created: "EVENT_KIND_OBJECT_CREATED",
  object_sealed: "EVENT_KIND_OBJECT_SEALED",
  object_aborted: "EVENT_KIND_OBJECT_ABORTED",
  object_deleted: "EVENT_KIND_OBJECT_DELETED",
  object_evicted: "EVENT_KIND_OBJECT_EVICTED",
  client_connected: "EVENT_KIND_CLIENT_CONNECTED",
  client_disconnected: "EVENT_KIND_CLIENT_DISCONNECTED",
  policy_changed: "EVENT_KIND_POLICY_CHANGED",
};

interface Cursor {
  value: number;
  id: string;
}

export class AdminService {
  readonly #o: AdminServiceOptions;
  readonly #core: StoreCore;
  readonly #watchers = new Set<(event: EventView) => void>();
  readonly #unlisten: () => void;
  #sequence = 0;
  /** ListNodes, LocateObjects and the cluster metrics (answering "the cluster is off" without one). */
  readonly cluster: ClusterAdmin;

  constructor(options: AdminServiceOptions) {
    this.#o = options;
    this.cluster = new ClusterAdmin(options.cluster);
    this.#core = options.core;
    this.#unlisten = this.#core.onEvent((event) => this.#onEvent(event));
  }

  get core(): StoreCore {
    return this.#core;
  }

  close(): void {
    this.#unlisten();
    this.#watchers.clear();
  }

  /** Reserved and resident arena bytes, measured now. */
  memory(): ArenaMemoryView {
    return this.#o.memory();
  }

  info(): StoreInfoView {
    const o = this.#o;
    const memory = o.memory();
    return {
      version: o.version,
      pid: process.pid,
      hostname: hostname(),
      socketPath: o.socketPath,
      capacityBytes: this.#core.capacityBytes,
      arenaBytes: o.arena.sizeBytes,
      backing: o.arena.backing,
      backingPath: o.arena.path ?? "",
      hugePages: o.arena.hugePages,
      pageSizeBytes: o.arena.pageSizeBytes,
      startTimeMs: o.startTimeMs,
      uptimeSeconds: (Date.now() - o.startTimeMs) / 1000,
      evictionPolicy: this.#core.evictionPolicy,
      admin: o.endpoints(),
      reservedBytes: memory.reservedBytes,
      faultedBytes: memory.faultedBytes,
      prefaulted: memory.prefaulted,
    };
  }

  stats(): StatsView {
    const s = this.#core.stats();
    const free = s.freeBytes;
    const largest = s.largestFreeBlockBytes;
    return {
      capacityBytes: s.capacityBytes,
      usedBytes: s.usedBytes,
      freeBytes: free,
      largestFreeBlockBytes: largest,
      fragmentation: free === 0 ? 0 : 1 - largest / free,
      objectsCreated: s.createdCount,
      objectsSealed: s.sealedCount,
      bytesCreated: s.createdBytes,
      bytesSealed: s.sealedBytes,
      evictableObjects: s.evictableCount,
      evictableBytes: s.evictableBytes,
      connectedClients: s.clientCount,
      waitingGets: s.waitingGetCount,
      waitingCreates: s.waitingCreateCount,
      counters: { ...this.#core.counters },
      evictionPolicy: s.evictionPolicy,
      spill: spillStatsView(this.#core.spillStats()),
    };
  }

  listObjects(query: ListObjectsQuery = {}): ListObjectsView {
    const pageSize =
      query.pageSize === undefined || query.pageSize === 0 ? DEFAULT_PAGE_SIZE : query.pageSize;
    if (!Number.isSafeInteger(pageSize) || pageSize < 0 || pageSize > MAX_PAGE_SIZE) {
      throw new AdminInvalidArgumentError(
        `page_size must be between 1 and ${MAX_PAGE_SIZE}, got ${pageSize}.`,
      );
    }
    const prefix = (query.idPrefix ?? "").toLowerCase();
    if (!HEX_PREFIX.test(prefix)) {
      throw new AdminInvalidArgumentError(
        `id_prefix ${JSON.stringify(prefix.slice(0, 64))} must be at most 40 hex digits.`,
      );
    }
    const minSize = query.minSizeBytes ?? 0;
    const maxSize = query.maxSizeBytes ?? 0;
    if (!Number.isSafeInteger(minSize) || minSize < 0 || !Number.isSafeInteger(maxSize) || maxSize < 0) {
      throw new AdminInvalidArgumentError("min_size_bytes and max_size_bytes must be non-negative integers.");
    }
    const state = query.state ?? "OBJECT_STATE_UNSPECIFIED";
    const orderBy = query.orderBy ?? "ORDER_BY_CREATE_TIME";
    const descending = query.descending === true;
    const sortKeyOf = sortValue(orderBy);
    const cursor = query.pageToken ? decodeToken(query.pageToken) : null;

    const matching: { entry: ObjectEntry; id: string; value: number }[] = [];
    for (const entry of this.#core.list()) {
      if (state !== "OBJECT_STATE_UNSPECIFIED" && stateName(entry) !== state) continue;
      const size = entry.dataSize + entry.metadataSize;
      if (size < minSize || (maxSize > 0 && size > maxSize)) continue;
      const id = hexOf(entry.key);
      if (prefix !== "" && !id.startsWith(prefix)) continue;
      matching.push({ entry, id, value: sortKeyOf(entry) });
    }
    const sign = descending ? -1 : 1;
    const compare = (a: Cursor, b: Cursor) =>
      sign * (a.value - b.value || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    matching.sort(compare);
    let start = 0;
    if (cursor !== null) {
      while (start < matching.length && compare(matching[start] as Cursor, cursor) <= 0) start++;
    }
    const page = matching.slice(start, start + pageSize);
    const last = page[page.length - 1];
    const more = start + page.length < matching.length;
    return {
      objects: page.map(({ entry }) => this.#objectInfo(entry, query.metadataLimitBytes ?? 0)),
      nextPageToken: more && last !== undefined ? encodeToken({ value: last.value, id: last.id }) : "",
      totalCount: matching.length,
    };
  }

  /** One object with its metadata (limitBytes 0: all of it). */
  getObject(id: string, metadataLimitBytes = 0): ObjectInfoView {
    const key = keyOfHex(id);
    const entry = this.#core.entry(key);
    if (entry === undefined) throw new AdminNotFoundError(`Object ${id.toLowerCase()} is not in the store.`);
    return this.#objectInfo(entry, metadataLimitBytes === 0 ? entry.metadataSize : metadataLimitBytes);
  }

  /**
   * Takes a reference on a sealed object (through a store client session of the admin plane, so it
   * shows in ListClients while held) until close().
   */
  holdObject(id: string): HeldObject {
    const key = keyOfHex(id);
    const entry = this.#core.entry(key);
    if (entry === undefined) throw new AdminNotFoundError(`Object ${id.toLowerCase()} is not in the store.`);
    if (entry.state !== "sealed") {
      throw new AdminFailedPreconditionError(
        `Object ${id.toLowerCase()} is still being created; read it after its creator seals it.`,
      );
    }
    const core = this.#core;
    const session = core.connectClient({
      pid: process.pid,
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
    });
    const granted = core.getNow(session.id, [key])[0] ?? null;
    if (granted === null) {
      core.disconnectClient(session.id);
      throw new AdminNotFoundError(`Object ${id.toLowerCase()} is not in the store.`);
    }
    let open = true;
    const readArena = this.#o.readArena;
    return {
      id: id.toLowerCase(),
      dataSizeBytes: granted.dataSize,
      read(offset: number, length: number): Uint8Array {
        if (!open) throw new AdminFailedPreconditionError("The object was released.");
        if (length === 0) return new Uint8Array(0);
        return readArena(granted.offset + offset, length);
      },
      close(): void {
        if (!open) return;
        open = false;
        try {
          core.release(session.id, key, 1);
        } catch (error) {
          if (!(error instanceof PlasmaError)) throw error;
        }
        core.disconnectClient(session.id);
      },
    };
  }

  deleteObjects(ids: readonly string[]): DeleteObjectsView {
    const keys = ids.map(keyOfHex);
    const view: DeleteObjectsView = { deleted: [], pending: [], notFound: [] };
    keys.forEach((key, i) => {
      const id = (ids[i] as string).toLowerCase();
      const entry = this.#core.entry(key);
      if (entry === undefined) view.notFound.push(id);
      else if (entry.state === "sealed" && entry.holders.size === 0) view.deleted.push(id);
      else view.pending.push(id);
    });
    this.#core.delete(keys);
    return view;
  }

  evict(bytes: number): EvictView {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new AdminInvalidArgumentError(`bytes must be a non-negative integer, got ${bytes}.`);
    }
    const evicted: ObjectSummaryView[] = [];
    const stop = this.#core.onEvent((event) => {
      if (event.kind === "object_evicted") evicted.push(summaryOf(event.entry));
    });
    let freedBytes: number;
    try {
      freedBytes = this.#core.evict(bytes);
    } finally {
      stop();
    }
    return { freedBytes, evicted };
  }

  policy(previous = ""): EvictionPolicyView {
    const s = this.#core.stats();
    return {
      name: s.evictionPolicy,
      available: [...EVICTION_POLICY_NAMES],
      evictableObjects: s.evictableCount,
      evictableBytes: s.evictableBytes,
      previous,
    };
  }

  setPolicy(name: string): EvictionPolicyView {
    if (!isEvictionPolicyName(name)) {
      throw new AdminInvalidArgumentError(
        `Unknown eviction policy ${JSON.stringify(name)}; pick one of ${EVICTION_POLICY_NAMES.join(", ")}.`,
      );
    }
    const previous = this.#core.evictionPolicy;
    if (previous !== name) this.#core.setEvictionPolicy(name);
    return this.policy(previous);
  }

  clients(): ClientView[] {
    const references = new Map<number, number>();
    for (const entry of this.#core.list()) {
      for (const [clientId, count] of entry.holders) {
        references.set(clientId, (references.get(clientId) ?? 0) + count);
      }
    }
    return this.#core.clientStatuses().map((status) => clientOf(status, references.get(status.id) ?? 0));
  }

  /**
   * Calls `sink` with every event of the given kinds (all when empty), in order, synchronously from the
   * store core: the sink must only queue. Returns the unsubscribe function.
   */
  watch(kinds: readonly EventKindName[], sink: (event: EventView) => void): () => void {
    const wanted = new Set(kinds);
    const watcher = (event: EventView) => {
      if (wanted.size === 0 || wanted.has(event.kind)) sink(event);
    };
    this.#watchers.add(watcher);
    return () => this.#watchers.delete(watcher);
  }

  #onEvent(event: StoreEvent): void {
    const kind = EVENT_KIND_OF[event.kind];
    if (kind === undefined) return;
    this.#sequence++;
    if (this.#watchers.size === 0) return;
    const view: EventView = {
      sequence: this.#sequence,
      kind,
      timeMs: Date.now(),
      object: null,
      client: null,
      policyFrom: "",
      policyTo: "",
    };
    if ("entry" in event) view.object = summaryOf(event.entry);
    else if ("client" in event) view.client = clientOf(event.client);
    else {
      view.policyFrom = event.from;
      view.policyTo = event.to;
    }
    for (const watcher of this.#watchers) watcher(view);
  }

  #objectInfo(entry: ObjectEntry, metadataLimitBytes: number): ObjectInfoView {
    const metadataBytes = Math.min(metadataLimitBytes, entry.metadataSize);
    return {
      ...summaryOf(entry),
      allocatedBytes: entry.allocatedBytes,
      refCount: entry.holders.size,
      createTimeMs: entry.createTimeMs,
      constructDurationMs: entry.constructDurationMs,
      lastAccessTimeMs: entry.lastAccessTimeMs,
      accessCount: entry.accessCount,
      deletePending: entry.deletePending,
      metadata:
        metadataBytes > 0
          ? this.#o.readArena(entry.offset + entry.dataSize, metadataBytes)
          : new Uint8Array(0),
      metadataTruncated: metadataBytes < entry.metadataSize,
    };
  }
}

/** A bounded queue between a synchronous event sink and a slow asynchronous consumer. */
export class EventQueue {
  readonly #items: EventView[] = [];
  readonly #limit: number;
  #wake: (() => void) | null = null;
  #failed: AdminResourceExhaustedError | null = null;
  #closed = false;

  constructor(limit = MAX_QUEUED_EVENTS) {
    this.#limit = limit;
  }

  get length(): number {
    return this.#items.length;
  }

  push(event: EventView): void {
    if (this.#failed !== null || this.#closed) return;
    if (this.#items.length >= this.#limit) {
      this.#items.length = 0;
      this.#failed = new AdminResourceExhaustedError(
        `This event watcher fell ${this.#limit} events behind; read faster or filter by kind, then watch again.`,
      );
    } else {
      this.#items.push(event);
    }
    this.#wake?.();
  }

  /** The next event; null once closed; throws the overflow error. Waits while empty. */
  async next(): Promise<EventView | null> {
    for (;;) {
      if (this.#closed) return null;
      if (this.#failed !== null) throw this.#failed;
      const item = this.#items.shift();
      if (item !== undefined) return item;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = null;
    }
  }

  /** Ends the queue: a waiting next() returns null. */
  close(): void {
    this.#closed = true;
    this.#items.length = 0;
    this.#wake?.();
  }
}

function sortValue(orderBy: OrderByName): (entry: ObjectEntry) => number {
  switch (orderBy) {
    case "ORDER_BY_SIZE":
      return (e) => e.dataSize + e.metadataSize;
    case "ORDER_BY_LAST_ACCESS":
      return (e) => e.lastAccessTimeMs;
    case "ORDER_BY_CREATE_TIME":
      return (e) => e.createTimeMs;
    default:
      throw new AdminInvalidArgumentError(`Unknown order_by ${JSON.stringify(orderBy)}.`);
  }
}

function encodeToken(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.value, cursor.id])).toString("base64url");
}

function decodeToken(token: string): Cursor {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      typeof parsed[0] === "number" &&
      typeof parsed[1] === "string"
    ) {
      return { value: parsed[0], id: parsed[1] };
    }
  } catch {
    // Fall through.
  }
  throw new AdminInvalidArgumentError(
    "page_token is not one this store issued; pass the next_page_token of the previous page unchanged.",
  );
}
