/**
 * ClusterNode: one store's part in the cluster (`--cluster-etcd`), composed by the daemon. It runs the
 * transfer service over the store's sealed objects, keeps the directory in step with the store (every seal
 * registered, every delete and eviction unregistered: batched, in the background, never on a seal's reply
 * path), and makes remote gets work (a MissingObjectSource over the core: PullManager). It answers the
 * admin plane's cluster questions (ClusterAdminView, structurally: the cluster may not import admin) and
 * the client's locate / nodes.
 */
import type { Logger } from "../log.ts";
import type { ArenaAccess } from "../store/arena-access.ts";
import type { StoreCore, StoreEvent } from "../store/store.ts";
import type { NodeInfo } from "./directory.ts";
import type { ClusterDirectoryBackend } from "./etcd/backend.ts";
import { EtcdGatewayClient } from "./etcd/client.ts";
import { parseEndpoints } from "./etcd/http.ts";
import { ClusterMembership, type LiveNode } from "./membership.ts";
import { NodeAddressCache } from "./node-addresses.ts";
import { PullManager } from "./pull-manager.ts";
import { StoreTransferSource } from "./store-source.ts";
import { formatTransferAddress, type TransferTls } from "./transfer/config.ts";
import { TransferServer } from "./transfer/server.ts";
import type { TransferAddress } from "./transfer/types.ts";

export interface ClusterNodeOptions {
  /** Comma-separated etcd client URLs (--cluster-etcd). */
  readonly etcd: string;
  readonly clusterName: string;
  readonly nodeName: string;
  /** --cluster-listen (port 0: a free one). */
  readonly listen: TransferAddress;
  /** --cluster-advertise HOST:PORT; default: the listen address with its real port. */
  readonly advertise?: string | undefined;
  readonly token?: string | undefined;
  readonly tls: TransferTls | null;
  readonly leaseTtlS: number;
  /** A pull that gets no byte for this long is abandoned for another holder (default 10 s). */
  readonly stallTimeoutMs?: number | undefined;
}

export interface ClusterNodeDeps {
  readonly core: StoreCore;
  readonly access: ArenaAccess;
  readonly logger: Logger;
}

/** One live node, as the directory says (usedBytes of this node: now). */
export interface ClusterNodeStatus {
  readonly name: string;
  readonly transferAddress: string;
  readonly capacityBytes: number;
  readonly usedBytes: number;
  readonly startTimeMs: number;
  readonly self: boolean;
}

export type ClusterNodeEvent =
  | { readonly kind: "pull"; readonly bytes: number; readonly seconds: number; readonly outcome: string }
  | {
      readonly kind: "directory_write";
      readonly ops: number;
      readonly seconds: number;
      readonly outcome: "ok" | "error";
    };

export class ClusterNode {
  readonly clusterName: string;
  readonly nodeName: string;
  readonly transferAddress: string;
  readonly etcdEndpoints: readonly string[];
  readonly #core: StoreCore;
  readonly #server: TransferServer;
  readonly #membership: ClusterMembership;
  readonly #backend: ClusterDirectoryBackend;
  readonly #pulls: PullManager;
  readonly #addresses: NodeAddressCache;
  readonly #listeners: Set<(event: ClusterNodeEvent) => void>;
  readonly #stopEvents: () => void;
  #closed = false;

  private constructor(parts: {
    options: ClusterNodeOptions;
    deps: ClusterNodeDeps;
    server: TransferServer;
    membership: ClusterMembership;
    backend: ClusterDirectoryBackend;
    transferAddress: string;
    endpoints: readonly string[];
    listeners: Set<(event: ClusterNodeEvent) => void>;
  }) {
    const { options, deps, listeners } = parts;
    this.clusterName = options.clusterName;
    this.nodeName = options.nodeName;
    this.transferAddress = parts.transferAddress;
    this.etcdEndpoints = parts.endpoints;
    this.#core = deps.core;
    this.#server = parts.server;
    this.#membership = parts.membership;
    this.#backend = parts.backend;
    this.#listeners = listeners;
    this.#addresses = new NodeAddressCache(() => parts.membership.nodes());
    this.#pulls = new PullManager({
      core: deps.core,
      access: deps.access,
      membership: parts.membership,
      token: options.token,
      tls: options.tls?.ca === undefined ? undefined : { ca: options.tls.ca },
      pull: options.stallTimeoutMs === undefined ? {} : { stallTimeoutMs: options.stallTimeoutMs },
      logger: deps.logger,
      addressOf: (name, fresh) => this.#addresses.addressOf(name, fresh),
      onPull: (bytes, seconds, outcome) => this.#emit({ kind: "pull", bytes, seconds, outcome }),
    });
    for (const entry of deps.core.list()) {
      if (entry.state === "sealed") this.#onStoreEvent({ kind: "object_sealed", entry });
    }
    this.#stopEvents = deps.core.onEvent((event) => this.#onStoreEvent(event));
    deps.core.addMissingObjectSource(this.#pulls);
  }

  /**
   * Listens for transfers, joins the cluster (lease, node name) and hooks into the core. Throws
   * NodeNameTakenError (another live store has the name), ClusterUnavailableError (no etcd answered),
   * ClusterConfigError (a non-loopback listener without a token) or TransferConnectionError.
   */
  static async start(options: ClusterNodeOptions, deps: ClusterNodeDeps): Promise<ClusterNode> {
    const endpoints = parseEndpoints(options.etcd);
    const server = TransferServer.listen({
      host: options.listen.host,
      port: options.listen.port,
      token: options.token,
      tls: options.tls,
      source: new StoreTransferSource(deps.core, deps.access),
      logger: deps.logger,
    });
    const listeners = new Set<(event: ClusterNodeEvent) => void>();
    const backend = meteredBackend(new EtcdGatewayClient({ endpoints }), (event) => {
      for (const listener of listeners) listener(event);
    });
    const transferAddress = options.advertise ?? formatTransferAddress(server.address);
    const node: NodeInfo = {
      transferAddress,
      capacityBytes: deps.core.capacityBytes,
      usedBytes: deps.core.stats().usedBytes,
      startTimeMs: Date.now(),
    };
    let membership: ClusterMembership;
    try {
      membership = await ClusterMembership.start({
        backend,
        endpoints,
        clusterName: options.clusterName,
        nodeName: options.nodeName,
        leaseTtlS: options.leaseTtlS,
        node,
        logger: deps.logger,
      });
    } catch (error) {
      server.stop();
      backend.close();
      throw error;
    }
    return new ClusterNode({
      options,
      deps,
      server,
      membership,
      backend,
      transferAddress,
      endpoints,
      listeners,
    });
  }

  /** Pulls started since start (one per object fetched, however many gets shared it). */
  get pullsStarted(): number {
    return this.#pulls.pullsStarted;
  }

  /** Live nodes, from the directory (this node's usedBytes as of now). */
  async nodes(): Promise<ClusterNodeStatus[]> {
    const live = await this.#membership.nodes();
    this.#addresses.remember(live);
    return live.map((node: LiveNode) => ({
      name: node.nodeName,
      transferAddress: node.transferAddress,
      capacityBytes: node.capacityBytes,
      usedBytes: node.nodeName === this.nodeName ? this.#core.stats().usedBytes : node.usedBytes,
      startTimeMs: node.startTimeMs,
      self: node.nodeName === this.nodeName,
    }));
  }

  /** Per id (20 bytes), the nodes whose stores hold it, sorted. */
  async locate(ids: readonly Uint8Array[]): Promise<string[][]> {
    const hexes = ids.map(hexOfId);
    const found = await this.#membership.locate([...new Set(hexes)]);
    return hexes.map((hex) => [...(found.get(hex) ?? [])].sort());
  }

  onEvent(listener: (event: ClusterNodeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves when every registration queued so far is in etcd (tests, orderly shutdown). */
  flushed(): Promise<void> {
    return this.#membership.flushed();
  }

  /** Stops pulling and serving, leaves the cluster (revoking the lease drops this node's entries). */
  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#pulls.close();
    this.#stopEvents();
    this.#server.stop();
    await this.#membership.close();
    this.#backend.close();
  }

  #onStoreEvent(event: StoreEvent): void {
    if (this.#closed || !("entry" in event)) return;
    const { entry } = event;
    if (event.kind === "object_sealed") {
      this.#membership.register(hexOfId(entry.id), {
        dataSizeBytes: entry.dataSize,
        metadataSizeBytes: entry.metadataSize,
      });
    } else if (event.kind === "object_deleted" || event.kind === "object_evicted") {
      this.#membership.unregister(hexOfId(entry.id));
    }
  }

  #emit(event: ClusterNodeEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}

function hexOfId(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.length).toString("hex");
}

/** The backend with every unconditional txn (a registration batch) timed and reported. */
function meteredBackend(
  backend: ClusterDirectoryBackend,
  report: (event: ClusterNodeEvent) => void,
): ClusterDirectoryBackend {
  return {
    get: (prefix) => backend.get(prefix),
    put: (key, value, lease) => backend.put(key, value, lease),
    delete: (key) => backend.delete(key),
    grantLease: (ttlS) => backend.grantLease(ttlS),
    revokeLease: (lease) => backend.revokeLease(lease),
    keepAlive: (lease, ttlS, handlers) => backend.keepAlive(lease, ttlS, handlers),
    watch: (prefix, fromRevision, handlers) => backend.watch(prefix, fromRevision, handlers),
    close: () => backend.close(),
    async txn(request) {
      if ((request.ifAbsent?.length ?? 0) > 0) return backend.txn(request);
      const startMs = performance.now();
      const seconds = () => (performance.now() - startMs) / 1000;
      try {
        const result = await backend.txn(request);
        report({ kind: "directory_write", ops: request.ops.length, seconds: seconds(), outcome: "ok" });
        return result;
      } catch (error) {
        report({ kind: "directory_write", ops: request.ops.length, seconds: seconds(), outcome: "error" });
        throw error;
      }
    },
  };
}
