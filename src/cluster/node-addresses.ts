/**
 * Where each node's transfer service is, cached from the directory's `nodes/` so that a remote get makes
 * one etcd read (the object's holders) instead of two. A miss reads all of `nodes/` again (one read
 * refreshes every entry; concurrent misses share it). A cached address can be stale (the node restarted
 * elsewhere): the caller asks again with `fresh` after a pull from it failed.
 */
import type { LiveNode } from "./membership.ts";

export class NodeAddressCache {
  readonly #read: () => Promise<LiveNode[]>;
  #addresses = new Map<string, string>();
  #reading: Promise<void> | null = null;

  constructor(read: () => Promise<LiveNode[]>) {
    this.#read = read;
  }

  /** The node's transfer address, or null if the directory lists no live node of that name. */
  async addressOf(nodeName: string, fresh = false): Promise<string | null> {
    if (!fresh) {
      const cached = this.#addresses.get(nodeName);
      if (cached !== undefined) return cached;
    }
    await this.#refresh();
    return this.#addresses.get(nodeName) ?? null;
  }

  /** Replaces the cache with this full list of live nodes (as just read from the directory). */
  remember(live: readonly LiveNode[]): void {
    this.#addresses = new Map(live.map((node) => [node.nodeName, node.transferAddress]));
  }

  #refresh(): Promise<void> {
    this.#reading ??= this.#read()
      .then((live) => this.remember(live))
      .finally(() => {
        this.#reading = null;
      });
    return this.#reading;
  }
}
