import { PlasmaError } from "../protocol/errors.ts";
import type { ClusterAdminView, ClusterMetricEvent, ClusterNodeInfo } from "./cluster-view.ts";
import { AdminFailedPreconditionError, AdminInvalidArgumentError, AdminUnavailableError } from "./errors.ts";

/**
 * The cluster side of the admin plane (ListNodes, LocateObjects, /v1/cluster), over the daemon's
 * ClusterAdminView: checks what callers send, turns directory failures into UNAVAILABLE, and answers
 * FAILED_PRECONDITION when the store runs without a cluster. Field names are the camelCase of
 * admin.proto's.
 */

/** LocateObjects takes at most this many ids per call. */
export const MAX_LOCATE_IDS = 10_000;
/** plasma_cluster_nodes reads the directory at most this often; scrapes in between reuse the count. */
export const NODE_COUNT_MAX_AGE_MS = 5_000;

export const CLUSTER_OFF_MESSAGE = "The cluster is off: start plasma_store with --cluster-etcd URLS.";

export interface ClusterNodeView {
  name: string;
  transferAddress: string;
  capacityBytes: number;
  usedBytes: number;
  startTimeMs: number;
  self: boolean;
}

/** ListNodes' answer and GET /v1/cluster's (there with `enabled: true`). */
export interface ClusterNodesView {
  clusterName: string;
  nodeName: string;
  transferAddress: string;
  etcdEndpoints: string[];
  nodes: ClusterNodeView[];
}

export interface ObjectLocationView {
  id: string;
  nodes: string[];
}

export interface LocateObjectsView {
  locations: ObjectLocationView[];
}

const ID_HEX = /^[0-9a-fA-F]{40}$/;

/** 40 hex digits into the 20 id bytes; INVALID_ARGUMENT otherwise. */
function idBytesOf(id: unknown): Uint8Array {
  if (typeof id !== "string" || !ID_HEX.test(id)) {
    throw new AdminInvalidArgumentError(
      `Object id ${JSON.stringify(String(id).slice(0, 64))} is not 40 hex digits (20 bytes).`,
    );
  }
  return new Uint8Array(Buffer.from(id, "hex"));
}

function nodeView(node: ClusterNodeInfo): ClusterNodeView {
  return {
    name: node.name,
    transferAddress: node.transferAddress,
    capacityBytes: node.capacityBytes,
    usedBytes: node.usedBytes,
    startTimeMs: node.startTimeMs,
    self: node.self,
  };
}

export class ClusterAdmin {
  readonly #view: ClusterAdminView | null;
  #nodeCount = 0;
  #nodeCountAtMs = Number.NEGATIVE_INFINITY;
  #nodeCountRefresh: Promise<number> | null = null;
  readonly #nodeCountMaxAgeMs: number;

  constructor(view: ClusterAdminView | undefined, nodeCountMaxAgeMs = NODE_COUNT_MAX_AGE_MS) {
    this.#view = view ?? null;
    this.#nodeCountMaxAgeMs = nodeCountMaxAgeMs;
  }

  get enabled(): boolean {
    return this.#view !== null;
  }

  async nodes(): Promise<ClusterNodesView> {
    const view = this.#on();
    const nodes = await this.#directory(view, () => view.nodes());
    this.#nodeCount = nodes.length;
    this.#nodeCountAtMs = Date.now();
    return {
      clusterName: view.clusterName,
      nodeName: view.nodeName,
      transferAddress: view.transferAddress,
      etcdEndpoints: [...view.etcdEndpoints],
      nodes: nodes.map(nodeView).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    };
  }

  async locate(ids: readonly unknown[]): Promise<LocateObjectsView> {
    const view = this.#on();
    if (ids.length > MAX_LOCATE_IDS) {
      throw new AdminInvalidArgumentError(
        `LocateObjects takes at most ${MAX_LOCATE_IDS} ids per call, got ${ids.length}; split the list.`,
      );
    }
    const bytes = ids.map(idBytesOf);
    if (bytes.length === 0) return { locations: [] };
    const holders = await this.#directory(view, () => view.locate(bytes));
    if (holders.length !== bytes.length) {
      throw new Error(`The cluster located ${holders.length} ids of ${bytes.length} asked for.`);
    }
    return {
      locations: ids.map((id, i) => ({
        id: (id as string).toLowerCase(),
        nodes: [...(holders[i] as string[])].sort(),
      })),
    };
  }

  /**
   * The number of live nodes for plasma_cluster_nodes: read from the directory at most every
   * NODE_COUNT_MAX_AGE_MS by default (concurrent scrapes share one read); the last count when etcd does not answer.
   */
  async nodeCount(): Promise<number> {
    const view = this.#on();
    if (Date.now() - this.#nodeCountAtMs < this.#nodeCountMaxAgeMs) return this.#nodeCount;
    this.#nodeCountRefresh ??= view
      .nodes()
      .then((nodes) => {
        this.#nodeCount = nodes.length;
        return nodes.length;
      })
      .catch(() => this.#nodeCount)
      .finally(() => {
        this.#nodeCountAtMs = Date.now();
        this.#nodeCountRefresh = null;
      });
    return this.#nodeCountRefresh;
  }

  /** Subscribes to pulls and directory writes; a no-op without a cluster. */
  onEvent(listener: (event: ClusterMetricEvent) => void): () => void {
    return this.#view === null ? () => {} : this.#view.onEvent(listener);
  }

  #on(): ClusterAdminView {
    if (this.#view === null) throw new AdminFailedPreconditionError(CLUSTER_OFF_MESSAGE);
    return this.#view;
  }

  /** A directory read; its PlasmaErrors (etcd unreachable, a bad answer) become UNAVAILABLE. */
  async #directory<T>(view: ClusterAdminView, read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof PlasmaError)) throw error;
      throw new AdminUnavailableError(
        `The cluster directory (etcd at ${view.etcdEndpoints.join(", ")}) did not answer: ${error.message}`,
      );
    }
  }
}
