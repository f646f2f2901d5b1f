/**
 * The one interface the cluster uses to reach its directory. The etcd JSON-gateway client implements it;
 * nothing else in src/cluster knows which transport (HTTP/1.1 gateway or gRPC) sits behind it.
 */

/** An etcd lease id: an int64, kept as its decimal string. */
export type LeaseId = string;

export interface KeyValue {
  readonly key: string;
  readonly value: string;
  /** "0" when the key has no lease. */
  readonly lease: LeaseId;
  readonly modRevision: number;
}

export interface RangeResult {
  readonly kvs: readonly KeyValue[];
  /** The store revision the range was read at: watch from revision + 1 to miss nothing. */
  readonly revision: number;
}

export type TxnOp =
  | { readonly type: "put"; readonly key: string; readonly value: string; readonly lease?: LeaseId }
  | { readonly type: "delete"; readonly key: string };

export interface TxnRequest {
  /** Keys that must not exist (create_revision == 0) for `ops` to run; empty means unconditional. */
  readonly ifAbsent?: readonly string[];
  readonly ops: readonly TxnOp[];
  /** Keys read (exactly) when a condition fails, returned in `failureKvs`. */
  readonly onFailureGet?: readonly string[];
}

export interface TxnResult {
  readonly succeeded: boolean;
  readonly failureKvs: readonly KeyValue[];
}

export interface WatchEvent {
  readonly type: "put" | "delete";
  readonly key: string;
  /** Empty for a delete. */
  readonly value: string;
  readonly modRevision: number;
}

export interface WatchHandlers {
  onEvent(event: WatchEvent): void;
  /**
   * A non-fatal problem (the stream broke; the watch reconnects from the next revision by itself) or,
   * with `fatal`, the end of the watch (e.g. the revision was compacted away: range again and re-watch).
   */
  onError?(error: Error, fatal: boolean): void;
  /** The stream is (re)established. */
  onConnected?(): void;
}

export interface KeepAliveHandlers {
  /** The lease is gone (etcd says so, or no keep-alive succeeded for a whole TTL). The loop has stopped. */
  onLost(error: Error): void;
  /** One keep-alive failed (etcd unreachable); the loop goes on until the TTL runs out. */
  onError?(error: Error): void;
  /** One keep-alive succeeded. */
  onRenewed?(ttlS: number): void;
}

export type Cancel = () => void;

/** At most this many operations in one transaction (etcd's --max-txn-ops default). */
export const MAX_TXN_OPS = 128;
/** At most this many bytes in one request body (etcd's --max-request-bytes default, 1.5 MiB). */
export const MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;

export interface ClusterDirectoryBackend {
  /** Every key under `prefix` (a key equal to `prefix` included). */
  get(prefix: string): Promise<RangeResult>;
  put(key: string, value: string, lease?: LeaseId): Promise<void>;
  delete(key: string): Promise<void>;
  txn(request: TxnRequest): Promise<TxnResult>;
  grantLease(ttlS: number): Promise<{ readonly id: LeaseId; readonly ttlS: number }>;
  revokeLease(lease: LeaseId): Promise<void>;
  /** Renews `lease` every ttl/3 until cancelled or lost. */
  keepAlive(lease: LeaseId, ttlS: number, handlers: KeepAliveHandlers): Cancel;
  /** Events on keys under `prefix` from `fromRevision` on, until cancelled. */
  watch(prefix: string, fromRevision: number, handlers: WatchHandlers): Cancel;
  /** Cancels every watch and keep-alive; does not revoke leases (they expire by themselves). */
  close(): void;
}
