import * as grpc from "@grpc/grpc-js";
import type { ClusterNodesView, LocateObjectsView } from "./cluster-service.ts";
import { DEFAULT_ADMIN_GRPC } from "./config.ts";
import { adminClientConstructor } from "./proto.ts";
import type {
  ClientView,
  DeleteObjectsView,
  EventKindName,
  EventView,
  EvictionPolicyView,
  EvictView,
  ListObjectsQuery,
  ListObjectsView,
  ObjectInfoView,
  StatsView,
  StoreInfoView,
} from "./service.ts";

/** A gRPC client of plasma.admin.v1.PlasmaAdmin, as used by plasma-admin. */

export interface AdminClientOptions {
  /** Sent as `authorization: Bearer TOKEN`. */
  token?: string;
  /** Deadline of each unary call (default 30 s). */
  deadlineMs?: number;
}

export interface ReadObjectOptions {
  offsetBytes?: number;
  /** 0 or absent: to the end. */
  lengthBytes?: number;
  chunkSizeBytes?: number;
}

export interface ObjectChunk {
  offsetBytes: number;
  data: Uint8Array;
  dataSizeBytes: number;
}

/** A failed admin call; `code` is the gRPC status name (NOT_FOUND, UNAUTHENTICATED, ...). */
export class AdminCallError extends Error {
  readonly code: string;
  readonly grpcCode: number;
  constructor(grpcCode: number, message: string) {
    super(message);
    this.name = "AdminCallError";
    this.grpcCode = grpcCode;
    this.code = grpc.status[grpcCode] ?? "UNKNOWN";
  }
}

function callError(error: unknown): AdminCallError {
  const e = error as Partial<grpc.ServiceError>;
  if (typeof e.code === "number") return new AdminCallError(e.code, e.details || e.message || "");
  return new AdminCallError(grpc.status.UNKNOWN, (error as Error)?.message ?? String(error));
}

type UnaryMethod = (
  request: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response: unknown) => void,
) => grpc.ClientUnaryCall;
type StreamMethod = (request: unknown, metadata: grpc.Metadata) => grpc.ClientReadableStream<unknown>;

export class AdminClient {
  readonly address: string;
  readonly #client: grpc.Client;
  readonly #metadata: grpc.Metadata;
  readonly #deadlineMs: number;

  constructor(address: string = DEFAULT_ADMIN_GRPC, options: AdminClientOptions = {}) {
    this.address = address;
    const Constructor = adminClientConstructor();
    this.#client = new Constructor(address, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": 8 * 1024 * 1024,
    });
    this.#metadata = new grpc.Metadata();
    if (options.token) this.#metadata.set("authorization", `Bearer ${options.token}`);
    this.#deadlineMs = options.deadlineMs ?? 30_000;
  }

  info(): Promise<StoreInfoView> {
    return this.#unary("GetStoreInfo", {});
  }

  stats(): Promise<StatsView> {
    return this.#unary("GetStats", {});
  }

  listObjects(query: ListObjectsQuery = {}): Promise<ListObjectsView> {
    return this.#unary("ListObjects", query);
  }

  /** Every object matching the query, following page tokens. */
  async listAllObjects(query: ListObjectsQuery = {}): Promise<ObjectInfoView[]> {
    const all: ObjectInfoView[] = [];
    let pageToken = "";
    do {
      const page = await this.listObjects({ ...query, pageToken });
      all.push(...page.objects);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    return all;
  }

  getObject(id: string, metadataLimitBytes = 0): Promise<ObjectInfoView> {
    return this.#unary("GetObject", { id, metadataLimitBytes });
  }

  /** Streams a sealed object's data in chunks. */
  async *readObject(id: string, options: ReadObjectOptions = {}): AsyncGenerator<ObjectChunk> {
    const stream = this.#stream("ReadObject", { id, ...options });
    try {
      for await (const chunk of stream) yield chunk as ObjectChunk;
    } catch (error) {
      throw callError(error);
    } finally {
      stream.cancel();
    }
  }

  deleteObjects(ids: readonly string[]): Promise<DeleteObjectsView> {
    return this.#unary("DeleteObjects", { ids });
  }

  evict(bytes: number): Promise<EvictView> {
    return this.#unary("Evict", { bytes });
  }

  policy(): Promise<EvictionPolicyView> {
    return this.#unary("GetEvictionPolicy", {});
  }

  setPolicy(name: string): Promise<EvictionPolicyView> {
    return this.#unary("SetEvictionPolicy", { name });
  }

  async clients(): Promise<ClientView[]> {
    const response = await this.#unary<{ clients: ClientView[] }>("ListClients", {});
    return response.clients;
  }

  /** This node, its cluster and the live nodes (FAILED_PRECONDITION when the store has no cluster). */
  nodes(): Promise<ClusterNodesView> {
    return this.#unary("ListNodes", {});
  }

  /** Per id (40 hex digits, at most 10 000), the nodes whose stores hold it. */
  locate(ids: readonly string[]): Promise<LocateObjectsView> {
    return this.#unary("LocateObjects", { ids });
  }

  /**
   * Store events as they happen (of the given kinds; all when empty) until cancel() or close().
   * `ready` resolves once the store has registered the watcher: every event after that is delivered.
   */
  watch(kinds: readonly EventKindName[] = []): {
    events: AsyncIterable<EventView>;
    ready: Promise<void>;
    cancel(): void;
  } {
    const stream = this.#stream("WatchEvents", { kinds });
    const ready = new Promise<void>((resolve, reject) => {
      stream.once("metadata", () => resolve());
      stream.once("error", (error) => reject(callError(error)));
    });
    ready.catch(() => {});
    const events = (async function* () {
      try {
        for await (const event of stream) yield event as EventView;
      } catch (error) {
        const e = callError(error);
        if (e.code !== "CANCELLED") throw e;
      }
    })();
    return { events, ready, cancel: () => stream.cancel() };
  }

  close(): void {
    this.#client.close();
  }

  #unary<T>(method: string, request: unknown): Promise<T> {
    const fn = (this.#client as unknown as Record<string, UnaryMethod>)[method] as UnaryMethod;
    return new Promise<T>((resolve, reject) => {
      fn.call(
        this.#client,
        request,
        this.#metadata,
        { deadline: Date.now() + this.#deadlineMs },
        (error, response) => {
          if (error !== null) reject(callError(error));
          else resolve(response as T);
        },
      );
    });
  }

  #stream(method: string, request: unknown): grpc.ClientReadableStream<unknown> {
    const fn = (this.#client as unknown as Record<string, StreamMethod>)[method] as StreamMethod;
    return fn.call(this.#client, request, this.#metadata);
  }
}
