/**
 * This node's place in the cluster: it holds a lease (kept alive), claims its node name under it, sends
 * the registration queue to etcd in transactions, and answers directory questions (who holds these ids,
 * which nodes are live, tell me when this id is sealed somewhere). After a lease loss it gets a new lease
 * and registers everything it holds again. Seals only touch the queue (O(1)); etcd is never on their path.
 */
import type { Logger } from "../log.ts";
import { DirectoryLayout, type NodeInfo, nodeInfoCodec, type ObjectHolding } from "./directory.ts";
import {
  ClusterLeaseLostError,
  ClusterUnavailableError,
  DirectoryValueError,
  NodeNameTakenError,
} from "./errors.ts";
import { type Cancel, type ClusterDirectoryBackend, type LeaseId, MAX_TXN_OPS } from "./etcd/backend.ts";
import { OutageTracker } from "./outage.ts";
import { RegistrationQueue } from "./registration-queue.ts";
import { waitForObject } from "./wait-for-object.ts";

export interface ClusterMembershipOptions {
  readonly backend: ClusterDirectoryBackend;
  /** For the outage warning (which etcd was unreachable). */
  readonly endpoints: readonly string[];
  readonly clusterName: string;
  readonly nodeName: string;
  readonly keyPrefix?: string;
  readonly leaseTtlS: number;
  readonly node: NodeInfo;
  readonly logger: Logger;
}

export interface LiveNode extends NodeInfo {
  readonly nodeName: string;
}

const MAX_RETRY_MS = 2000;
/**
 * A flush waits this long for more registrations to join its transaction, unless a full batch (128 ops)
 * is queued or someone awaits flushed(). Sequential seals then share one transaction per 10 ms instead
 * of one per etcd round trip, whose CPU (fetch, JSON, etcd itself) competes with the seals.
 */
export const FLUSH_DELAY_MS = 10;

export class ClusterMembership {
  readonly #o: ClusterMembershipOptions;
  readonly #layout: DirectoryLayout;
  readonly #queue: RegistrationQueue;
  readonly #outage: OutageTracker;
  readonly #waits = new Set<Cancel>();
  #lease: LeaseId | null = null;
  #stopKeepAlive: Cancel = () => {};
  #flushing: Promise<void> | null = null;
  /** Ends the current FLUSH_DELAY_MS wait early (a full batch, a flushed() caller, close). */
  #wake: (() => void) | null = null;
  /** Callers inside flushed(): while > 0 a flush does not wait for more registrations. */
  #flushWaiters = 0;
  #closed = false;

  private constructor(options: ClusterMembershipOptions) {
    this.#o = options;
    this.#layout = new DirectoryLayout(options.clusterName, options.keyPrefix);
    this.#queue = new RegistrationQueue(this.#layout, options.nodeName);
    this.#outage = new OutageTracker(options.logger, options.endpoints);
  }

  /** Grants a lease and claims the node name; NodeNameTakenError when a live node holds it. */
  static async start(options: ClusterMembershipOptions): Promise<ClusterMembership> {
    const membership = new ClusterMembership(options);
    await membership.#acquire();
    return membership;
  }

  get nodeName(): string {
    return this.#o.nodeName;
  }

  get layout(): DirectoryLayout {
    return this.#layout;
  }

  /** The lease this node's entries hang on (null while it is being granted again). */
  get leaseId(): LeaseId | null {
    return this.#lease;
  }

  /** This node holds `idHex` now: queued, sent in the background. */
  register(idHex: string, holding: ObjectHolding): void {
    this.#queue.register(idHex, holding);
    this.#scheduleFlush();
    if (this.#queue.pendingCount >= MAX_TXN_OPS) this.#wake?.();
  }

  /** This node no longer holds `idHex`. */
  unregister(idHex: string): void {
    this.#queue.unregister(idHex);
    this.#scheduleFlush();
    if (this.#queue.pendingCount >= MAX_TXN_OPS) this.#wake?.();
  }

  /** Resolves once every registration queued so far is in etcd (for tests and orderly shutdown). */
  async flushed(): Promise<void> {
    this.#flushWaiters++;
    try {
      this.#wake?.();
      while (!this.#closed && (this.#flushing !== null || this.#queue.pendingCount > 0)) {
        this.#scheduleFlush();
        if (this.#flushing === null)
          await Bun.sleep(20); // no lease right now: being granted again
        else await this.#flushing;
      }
    } finally {
      this.#flushWaiters--;
    }
  }

  /** Per id, the nodes whose stores hold it. Throws ClusterUnavailableError when etcd is unreachable. */
  async locate(ids: readonly string[]): Promise<Map<string, string[]>> {
    const ranges = await this.#call(() =>
      Promise.all(ids.map((id) => this.#o.backend.get(this.#layout.objectPrefix(id)))),
    );
    const found = new Map<string, string[]>();
    ids.forEach((id, i) => {
      const names = (ranges[i]?.kvs ?? []).flatMap(
        (kv) => this.#layout.parseObjectKey(kv.key)?.nodeName ?? [],
      );
      found.set(id, names);
    });
    return found;
  }

  /** The live nodes (their lease is alive), entries that do not decode skipped. */
  async nodes(): Promise<LiveNode[]> {
    const range = await this.#call(() => this.#o.backend.get(this.#layout.nodesPrefix));
    return range.kvs.flatMap((kv) => {
      const nodeName = this.#layout.parseNodeKey(kv.key);
      if (nodeName === null) return [];
      try {
        return [{ nodeName, ...nodeInfoCodec.decode(kv.value) }];
      } catch (error) {
        if (!(error instanceof DirectoryValueError)) throw error;
        this.#o.logger.debug(
          { key: kv.key, err: error.message },
          "skipped a node entry that does not decode",
        );
        return [];
      }
    });
  }

  /**
   * The holders of `idHex` as soon as any node registers it (a watch, not polling); [] at the timeout
   * (-1: no timeout), also when etcd stays unreachable meanwhile.
   */
  waitForObject(idHex: string, timeoutMs: number): Promise<string[]> {
    const prefix = this.#layout.objectPrefix(idHex);
    return waitForObject({
      backend: this.#o.backend,
      prefix,
      timeoutMs,
      holders: (keys) => keys.flatMap((key) => this.#layout.parseObjectKey(key)?.nodeName ?? []),
      outage: this.#outage,
      cancels: this.#waits,
    });
  }

  /** Stops keep-alive, flushing and waits; revokes the lease (dropping this node's entries) unless told not to. */
  async close(options: { revoke?: boolean } = {}): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    this.#stopKeepAlive();
    for (const cancel of [...this.#waits]) cancel();
    const lease = this.#lease;
    this.#lease = null;
    if (options.revoke !== false && lease !== null) {
      await this.#o.backend.revokeLease(lease).catch((error: unknown) => {
        this.#o.logger.warn(
          { err: (error as Error).message },
          "could not revoke the cluster lease; it expires by itself",
        );
      });
    }
  }

  async #call<T>(run: () => Promise<T>): Promise<T> {
    try {
      const result = await run();
      this.#outage.succeeded();
      return result;
    } catch (error) {
      this.#outage.failed(error);
      throw error;
    }
  }

  /** Grants a lease, claims the node name under it, and starts keeping it alive. */
  async #acquire(): Promise<void> {
    const { backend, leaseTtlS, nodeName } = this.#o;
    const lease = await this.#call(() => backend.grantLease(leaseTtlS));
    const key = this.#layout.nodeKey(nodeName);
    const claim = await this.#call(() =>
      backend.txn({
        ifAbsent: [key],
        ops: [{ type: "put", key, value: nodeInfoCodec.encode(this.#o.node), lease: lease.id }],
        onFailureGet: [key],
      }),
    );
    if (!claim.succeeded) {
      await backend.revokeLease(lease.id).catch(() => undefined);
      throw this.#nameTaken(claim.failureKvs[0]?.value);
    }
    this.#lease = lease.id;
    this.#stopKeepAlive = backend.keepAlive(lease.id, lease.ttlS, {
      onLost: (error) => this.#leaseLost(lease.id, error),
      onError: (error) => this.#outage.failed(error),
      onRenewed: () => this.#outage.succeeded(),
    });
  }

  #nameTaken(existing: string | undefined): NodeNameTakenError {
    const { nodeName, clusterName, leaseTtlS } = this.#o;
    let where = "";
    try {
      if (existing !== undefined)
        where = ` (transfer address ${nodeInfoCodec.decode(existing).transferAddress})`;
    } catch {
      // an undecodable entry still holds the name
    }
    return new NodeNameTakenError(
      `node name "${nodeName}" is already held by a live store in cluster "${clusterName}"${where}: give this ` +
        `store another --node-name, or stop that one (if it died, its entry vanishes within its lease TTL, ${leaseTtlS} s here)`,
    );
  }

  #leaseLost(lease: LeaseId, error: Error): void {
    if (this.#closed || this.#lease !== lease) return;
    this.#o.logger.warn(
      { lease, err: error.message },
      "cluster lease lost; granting a new one and registering again",
    );
    this.#lease = null;
    this.#stopKeepAlive();
    this.#queue.leaseLost();
    void this.#recover(lease);
  }

  async #recover(oldLease: LeaseId): Promise<void> {
    let retryMs = 100;
    let namedTaken = false;
    while (!this.#closed && this.#lease === null) {
      try {
        await this.#o.backend.revokeLease(oldLease); // its entries may still be there: drop them first
        await this.#acquire();
        this.#o.logger.info(
          { lease: this.#lease },
          "cluster lease granted again; re-registering held objects",
        );
        this.#scheduleFlush();
        return;
      } catch (error) {
        this.#outage.failed(error);
        if (error instanceof NodeNameTakenError && !namedTaken) {
          namedTaken = true;
          this.#o.logger.error({ err: error.message }, "cannot rejoin the cluster");
        }
        await Bun.sleep(retryMs);
        retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
      }
    }
  }

  #scheduleFlush(): void {
    if (this.#flushing !== null || this.#closed) return;
    this.#flushing = this.#flush().finally(() => {
      this.#flushing = null;
    });
  }

  /** Resolves after FLUSH_DELAY_MS, or at once when a full batch is queued or flushed() is awaited. */
  #gather(): Promise<void> {
    if (this.#flushWaiters > 0 || this.#closed || this.#queue.pendingCount >= MAX_TXN_OPS) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#wake?.(), FLUSH_DELAY_MS);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
    });
  }

  async #flush(): Promise<void> {
    let retryMs = 100;
    while (!this.#closed && this.#lease !== null) {
      await this.#gather(); // let more registrations join this transaction
      if (this.#closed || this.#lease === null) return;
      const lease = this.#lease;
      const batch = this.#queue.takeBatch(lease);
      if (batch === null) return;
      try {
        await this.#o.backend.txn({ ops: batch.ops });
        this.#queue.committed(batch);
        this.#outage.succeeded();
        retryMs = 100;
      } catch (error) {
        this.#queue.failed(batch);
        this.#outage.failed(error);
        if (error instanceof ClusterLeaseLostError) return this.#leaseLost(lease, error);
        if (!(error instanceof ClusterUnavailableError)) {
          this.#o.logger.error(
            { err: (error as Error).message },
            "a directory registration failed; retrying",
          );
        }
        await Bun.sleep(retryMs);
        retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
      }
    }
  }
}
