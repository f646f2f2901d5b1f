/**
 * What the admin plane needs to know about the cluster (`--cluster-etcd`), as the daemon hands it in.
 * The admin plane sits on the same floor as src/cluster and may not import it, so the daemon adapts its
 * membership, directory and puller to this interface. Without one (a store without `--cluster-etcd`),
 * the cluster calls answer "the cluster is off" and the cluster metrics are absent.
 */

/** One live node of the cluster, as its `nodes/<name>` directory entry says. */
export interface ClusterNodeInfo {
  readonly name: string;
  /** HOST:PORT other stores dial (--cluster-advertise). */
  readonly transferAddress: string;
  readonly capacityBytes: number;
  readonly usedBytes: number;
  readonly startTimeMs: number;
  /** True for the node this store runs as. */
  readonly self: boolean;
}

/** A pull of one object from another store, once it ended. */
export interface ClusterPullEvent {
  readonly kind: "pull";
  /** Bytes (data + metadata) that arrived, whether the pull completed or not. */
  readonly bytes: number;
  readonly seconds: number;
  /**
   * "ok", or why it failed: a short stable label such as the error's `code` (`TRANSFER_STALLED`,
   * `CLUSTER_AUTH`, `STORE_FULL`, `NOT_AVAILABLE`, ...). It becomes a Prometheus label value
   * (lowercased, other characters than [a-z0-9_] as `_`), so it must come from a small fixed set.
   */
  readonly outcome: string;
}

/** One transaction of directory writes (registrations and unregistrations) sent to etcd. */
export interface ClusterDirectoryWriteEvent {
  readonly kind: "directory_write";
  /** Operations (keys put or deleted) in the transaction. */
  readonly ops: number;
  readonly seconds: number;
  readonly outcome: "ok" | "error";
}

export type ClusterMetricEvent = ClusterPullEvent | ClusterDirectoryWriteEvent;

export interface ClusterAdminView {
  readonly clusterName: string;
  readonly nodeName: string;
  /** HOST:PORT this store's transfer service is reached at (the advertised address). */
  readonly transferAddress: string;
  readonly etcdEndpoints: readonly string[];
  /** Live nodes, read from the directory now. Rejects (a PlasmaError) when etcd does not answer. */
  nodes(): Promise<ClusterNodeInfo[]>;
  /**
   * Per id (20 bytes each), the names of the nodes whose stores hold it, from the directory: one array
   * per id, in order (empty for an id held nowhere). Rejects (a PlasmaError) when etcd does not answer.
   */
  locate(ids: readonly Uint8Array[]): Promise<string[][]>;
  /** Calls `listener` for every pull and directory write as it ends; returns the unsubscribe function. */
  onEvent(listener: (event: ClusterMetricEvent) => void): () => void;
}
