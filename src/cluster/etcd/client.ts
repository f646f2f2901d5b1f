/**
 * ClusterDirectoryBackend over etcd's JSON gateway (`/v3/...` on the client port) with fetch. Chosen over
 * the gRPC client (etcd3 on @grpc/grpc-js) because every call here is a short HTTP/1.1 request, and the two
 * streams (keep-alive, watch) are plain chunked responses: no HTTP/2 under Bun.
 */
import { ClusterLeaseLostError } from "../errors.ts";
import {
  type Cancel,
  type ClusterDirectoryBackend,
  type KeepAliveHandlers,
  type LeaseId,
  MAX_TXN_OPS,
  type RangeResult,
  type TxnOp,
  type TxnRequest,
  type TxnResult,
  type WatchHandlers,
} from "./backend.ts";
import { EtcdHttp, parseEndpoints } from "./http.ts";
import {
  asArray,
  asObject,
  bad,
  headerRevision,
  int64Number,
  int64String,
  type JsonObject,
  keyValue,
  prefixEnd,
  toBase64,
} from "./json.ts";
import { runWatch } from "./watch.ts";

export interface EtcdGatewayOptions {
  /** Comma-separated client URLs (--cluster-etcd), or a list. */
  readonly endpoints: string | readonly string[];
  /** Per request (default 3000). */
  readonly requestTimeoutMs?: number;
  /** Largest answer read (default 16 MiB). */
  readonly maxResponseBytes?: number;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 3000;
const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

function txnOp(op: TxnOp): JsonObject {
  if (op.type === "delete") return { request_delete_range: { key: toBase64(op.key) } };
  const put: Record<string, string> = { key: toBase64(op.key), value: toBase64(op.value) };
  if (op.lease !== undefined && op.lease !== "0") put.lease = op.lease;
  return { request_put: put };
}

export class EtcdGatewayClient implements ClusterDirectoryBackend {
  readonly #http: EtcdHttp;
  readonly #cancels = new Set<Cancel>();

  constructor(options: EtcdGatewayOptions) {
    const endpoints =
      typeof options.endpoints === "string" ? parseEndpoints(options.endpoints) : options.endpoints;
    this.#http = new EtcdHttp({
      endpoints,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      maxResponseBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
    });
  }

  get endpoints(): readonly string[] {
    return this.#http.endpoints;
  }

  async get(prefix: string): Promise<RangeResult> {
    const body = await this.#http.post("/v3/kv/range", {
      key: toBase64(prefix),
      range_end: prefixEnd(prefix),
    });
    return { kvs: asArray(body.kvs, "kvs").map(keyValue), revision: headerRevision(body) };
  }

  async put(key: string, value: string, lease?: LeaseId): Promise<void> {
    await this.#http.post("/v3/kv/put", txnOp({ type: "put", key, value, lease }).request_put as JsonObject);
  }

  async delete(key: string): Promise<void> {
    await this.#http.post("/v3/kv/deleterange", { key: toBase64(key) });
  }

  async txn(request: TxnRequest): Promise<TxnResult> {
    const compares = request.ifAbsent ?? [];
    const reads = request.onFailureGet ?? [];
    if (request.ops.length > MAX_TXN_OPS || compares.length > MAX_TXN_OPS || reads.length > MAX_TXN_OPS) {
      throw new RangeError(`an etcd transaction holds at most ${MAX_TXN_OPS} operations`);
    }
    const body = await this.#http.post("/v3/kv/txn", {
      compare: compares.map((key) => ({
        key: toBase64(key),
        target: "CREATE",
        result: "EQUAL",
        create_revision: "0",
      })),
      success: request.ops.map(txnOp),
      failure: reads.map((key) => ({ request_range: { key: toBase64(key) } })),
    });
    if (body.succeeded !== undefined && typeof body.succeeded !== "boolean")
      throw bad("a txn without a boolean");
    const succeeded = body.succeeded === true;
    if (succeeded) return { succeeded, failureKvs: [] };
    const failureKvs = asArray(body.responses, "txn responses").flatMap((raw) => {
      const range = asObject(asObject(raw, "a txn response").response_range ?? {}, "a range response");
      return asArray(range.kvs, "kvs").map(keyValue);
    });
    return { succeeded, failureKvs };
  }

  async grantLease(ttlS: number): Promise<{ id: LeaseId; ttlS: number }> {
    if (!Number.isInteger(ttlS) || ttlS < 1)
      throw new RangeError(`a lease TTL is a whole number of seconds ≥ 1, got ${ttlS}`);
    const body = await this.#http.post("/v3/lease/grant", { TTL: String(ttlS) });
    if (typeof body.error === "string" && body.error !== "")
      throw bad(`a lease grant error: ${body.error.slice(0, 200)}`);
    const id = int64String(body.ID, "a lease ID");
    if (id === "0") throw bad("a lease grant without an ID");
    return { id, ttlS: int64Number(body.TTL, "a lease TTL") };
  }

  async revokeLease(lease: LeaseId): Promise<void> {
    try {
      await this.#http.post("/v3/lease/revoke", { ID: lease });
    } catch (error) {
      if (!(error instanceof ClusterLeaseLostError)) throw error; // already gone: revoked
    }
  }

  /** One renewal; the remaining TTL in seconds, 0 when etcd no longer knows the lease. */
  async renewLease(lease: LeaseId): Promise<number> {
    const body = await this.#http.post("/v3/lease/keepalive", { ID: lease });
    const result = asObject(body.result ?? {}, "a keep-alive result");
    return int64Number(result.TTL, "a keep-alive TTL");
  }

  keepAlive(lease: LeaseId, ttlS: number, handlers: KeepAliveHandlers): Cancel {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let lastRenewMs = Date.now();
    const intervalMs = Math.max(250, (ttlS * 1000) / 3);
    const cancel = (): void => {
      stopped = true;
      clearTimeout(timer);
      this.#cancels.delete(cancel);
    };
    const lost = (error: Error): void => {
      cancel();
      handlers.onLost(error);
    };
    const tick = async (): Promise<void> => {
      try {
        const remainingS = await this.renewLease(lease);
        if (stopped) return;
        if (remainingS <= 0) return lost(new ClusterLeaseLostError(`etcd lease ${lease} expired`));
        lastRenewMs = Date.now();
        handlers.onRenewed?.(remainingS);
      } catch (error) {
        if (stopped) return;
        if (Date.now() - lastRenewMs >= ttlS * 1000) {
          return lost(
            new ClusterLeaseLostError(
              `etcd lease ${lease} not renewed for ${ttlS} s: ${(error as Error).message}`,
            ),
          );
        }
        handlers.onError?.(error as Error);
      }
      if (!stopped) timer = setTimeout(tick, intervalMs);
    };
    this.#cancels.add(cancel);
    timer = setTimeout(tick, intervalMs);
    return cancel;
  }

  watch(prefix: string, fromRevision: number, handlers: WatchHandlers): Cancel {
    const controller = new AbortController();
    const cancel = (): void => {
      controller.abort();
      this.#cancels.delete(cancel);
    };
    this.#cancels.add(cancel);
    const request = { key: toBase64(prefix), range_end: prefixEnd(prefix) };
    void runWatch(this.#http, request, fromRevision, handlers, controller.signal).finally(cancel);
    return cancel;
  }

  close(): void {
    for (const cancel of [...this.#cancels]) cancel();
  }
}
