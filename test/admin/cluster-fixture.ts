/**
 * The admin plane in this process around a StoreCore, with an in-memory cluster directory standing in
 * for the daemon's etcd-backed one (the daemon wiring comes separately): its nodes, holders and
 * pull / directory-write events are real data the tests set, and it can be made to fail as an
 * unreachable etcd does.
 */
import type { ClusterAdminView, ClusterMetricEvent, ClusterNodeInfo } from "../../src/admin/cluster-view.ts";
import { type AdminPlane, startAdminPlane } from "../../src/admin/plane.ts";
import { ClusterUnavailableError } from "../../src/cluster/errors.ts";
import { silentLogger } from "../../src/log.ts";
import { StoreCore } from "../../src/store/store.ts";

/** A directory in memory: nodes by name, holders by id (hex). */
export class MemoryClusterDirectory implements ClusterAdminView {
  readonly clusterName: string;
  readonly nodeName: string;
  readonly transferAddress: string;
  readonly etcdEndpoints: readonly string[];
  readonly #nodes = new Map<string, Omit<ClusterNodeInfo, "self">>();
  readonly #holders = new Map<string, Set<string>>();
  readonly #listeners = new Set<(event: ClusterMetricEvent) => void>();
  /** Reads of the directory (nodes() and locate() calls) so far. */
  reads = 0;
  /** While set, every read rejects as when no etcd endpoint answers. */
  unreachable = false;

  constructor(clusterName: string, nodeName: string, transferAddress: string, etcdEndpoints: string[]) {
    this.clusterName = clusterName;
    this.nodeName = nodeName;
    this.transferAddress = transferAddress;
    this.etcdEndpoints = etcdEndpoints;
  }

  addNode(node: Omit<ClusterNodeInfo, "self">): void {
    this.#nodes.set(node.name, node);
  }

  removeNode(name: string): void {
    this.#nodes.delete(name);
    for (const holders of this.#holders.values()) holders.delete(name);
  }

  hold(idHex: string, node: string): void {
    const key = idHex.toLowerCase();
    const holders = this.#holders.get(key) ?? new Set<string>();
    holders.add(node);
    this.#holders.set(key, holders);
  }

  emit(event: ClusterMetricEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }

  async nodes(): Promise<ClusterNodeInfo[]> {
    this.#read();
    return [...this.#nodes.values()].map((n) => ({ ...n, self: n.name === this.nodeName }));
  }

  async locate(ids: readonly Uint8Array[]): Promise<string[][]> {
    this.#read();
    return ids.map((id) => [...(this.#holders.get(Buffer.from(id).toString("hex")) ?? [])]);
  }

  onEvent(listener: (event: ClusterMetricEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #read(): void {
    this.reads++;
    if (this.unreachable) {
      throw new ClusterUnavailableError(
        `No etcd endpoint answered (${this.etcdEndpoints.join(", ")}): connection refused.`,
      );
    }
  }
}

export interface InProcessPlane {
  readonly core: StoreCore;
  readonly plane: AdminPlane;
  readonly grpc: string;
  readonly http: string;
  readonly token: string;
  headers(extra?: Record<string, string>): Record<string, string>;
  /** Creates and seals an object of `dataSizeBytes` bytes of `fill` (no reference kept). */
  put(idHex: string, dataSizeBytes: number, fill: number): void;
  stop(): void;
}

/** Starts the admin plane on free loopback ports over a fresh StoreCore of `capacityBytes`. */
export async function startInProcessPlane(
  cluster: ClusterAdminView | undefined,
  token = "cluster-admin-s3cret",
  capacityBytes = 1 << 20,
): Promise<InProcessPlane> {
  const core = new StoreCore({ capacityBytes });
  const arena = new Uint8Array(capacityBytes);
  const plane = await startAdminPlane({
    grpc: { host: "127.0.0.1", port: 0 },
    http: { host: "127.0.0.1", port: 0 },
    token,
    core,
    logger: silentLogger,
    version: "test",
    socketPath: "/nonexistent/in-process.sock",
    arena: { sizeBytes: capacityBytes, backing: "memfd", path: null, hugePages: false, pageSizeBytes: 4096 },
    startTimeMs: Date.now(),
    readArena: (offset, length) => arena.slice(offset, offset + length),
    memory: () => ({ reservedBytes: 0, faultedBytes: 0, prefaulted: false }),
    residentBytesIn: () => 0,
    ready: () => true,
    cluster,
  });
  if (plane.grpcAddress === null || plane.httpAddress === null) throw new Error("admin plane not started");
  const writer = core.connectClient({ pid: process.pid, uid: 0, gid: 0 });
  return {
    core,
    plane,
    grpc: plane.grpcAddress,
    http: plane.httpAddress,
    token,
    headers: (extra = {}) => ({ ...extra, authorization: `Bearer ${token}` }),
    put(idHex, dataSizeBytes, fill) {
      const id = new Uint8Array(Buffer.from(idHex, "hex"));
      const key = String.fromCharCode(...id);
      core.createAndSeal(writer.id, { id, key, dataSize: dataSizeBytes, metadataSize: 0 }, (entry) => {
        arena.fill(fill, entry.offset, entry.offset + dataSizeBytes);
      });
    },
    stop: () => plane.stop(),
  };
}
