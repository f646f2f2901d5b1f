/**
 * What this node holds, and what etcd has yet to learn about it. Pure: register/unregister are O(1) map
 * updates (a seal's reply never waits for etcd); the membership edge takes batches of at most 128 ops,
 * sends each as one transaction, and reports it committed or failed.
 *
 * - A register and an unregister of the same id before a flush cancel out: nothing is sent.
 * - An id is written at most once per batch (etcd refuses a txn that names a key twice).
 * - A failed batch leaves its ids dirty (sent again); a put that may have landed is assumed to have,
 *   so a later unregister still deletes it (deleting an absent key is harmless).
 * - After a lease loss every held id is dirty again: the node registers everything it holds anew.
 */
import {
  type DirectoryLayout,
  holdingCodec,
  type ObjectHolding,
  type RegistrationBatch,
} from "./directory.ts";
import { type LeaseId, MAX_REQUEST_BYTES, MAX_TXN_OPS, type TxnOp } from "./etcd/backend.ts";

/** Room kept for the transaction's JSON framing around the ops, under etcd's request limit. */
const BATCH_BYTES_BUDGET = MAX_REQUEST_BYTES / 2;

export class RegistrationQueue {
  readonly #layout: DirectoryLayout;
  readonly #nodeName: string;
  /** The truth: what this node holds now. */
  readonly #held = new Map<string, ObjectHolding>();
  /** Ids whose etcd entry may differ from #held (insertion order = flush order). */
  readonly #dirty = new Set<string>();
  /** Ids whose entry is (or may be) in etcd under the current lease. */
  readonly #inEtcd = new Set<string>();
  #inFlight: RegistrationBatch | null = null;

  constructor(layout: DirectoryLayout, nodeName: string) {
    this.#layout = layout;
    this.#nodeName = nodeName;
    layout.nodeKey(nodeName); // checks the name once
  }

  /** This node now holds `idHex` (sealed here or pulled here). */
  register(idHex: string, holding: ObjectHolding): void {
    this.#held.set(idHex, holding);
    this.#dirty.add(idHex);
  }

  /** This node no longer holds `idHex` (deleted or evicted). */
  unregister(idHex: string): void {
    if (!this.#held.delete(idHex)) return;
    if (this.#inEtcd.has(idHex)) this.#dirty.add(idHex);
    else this.#dirty.delete(idHex);
  }

  get heldCount(): number {
    return this.#held.size;
  }

  /** Ids with work to send (puts and deletes not yet committed), the batch in flight excluded. */
  get pendingCount(): number {
    return this.#dirty.size;
  }

  get inFlight(): boolean {
    return this.#inFlight !== null;
  }

  holds(idHex: string): boolean {
    return this.#held.has(idHex);
  }

  /** The next transaction (≤ 128 ops, well under etcd's byte limit), or null when nothing is dirty. */
  takeBatch(lease: LeaseId): RegistrationBatch | null {
    if (this.#inFlight !== null) throw new Error("takeBatch: the previous batch is still in flight");
    const ops: TxnOp[] = [];
    const ids: string[] = [];
    let bytes = 0;
    for (const idHex of this.#dirty) {
      if (ops.length === MAX_TXN_OPS || bytes > BATCH_BYTES_BUDGET) break;
      this.#dirty.delete(idHex);
      const key = this.#layout.objectKey(idHex, this.#nodeName);
      const holding = this.#held.get(idHex);
      const op: TxnOp =
        holding === undefined
          ? { type: "delete", key }
          : { type: "put", key, value: holdingCodec.encode(holding), lease };
      bytes += key.length * 2 + (op.type === "put" ? op.value.length * 2 : 0) + 64;
      ops.push(op);
      ids.push(idHex);
    }
    if (ops.length === 0) return null;
    this.#inFlight = { ops, ids };
    return this.#inFlight;
  }

  /** etcd applied the batch. */
  committed(batch: RegistrationBatch): void {
    this.#finish(batch);
    batch.ops.forEach((op, i) => {
      const idHex = batch.ids[i] as string;
      if (op.type === "put") this.#inEtcd.add(idHex);
      else this.#inEtcd.delete(idHex);
    });
  }

  /** The batch may or may not have been applied: send its ids again. */
  failed(batch: RegistrationBatch): void {
    this.#finish(batch);
    batch.ops.forEach((op, i) => {
      const idHex = batch.ids[i] as string;
      if (op.type === "put") this.#inEtcd.add(idHex); // may have landed
      if (this.#held.has(idHex) || this.#inEtcd.has(idHex)) this.#dirty.add(idHex);
    });
  }

  /** The lease (and with it every entry) is gone: everything held is to be registered again. */
  leaseLost(): void {
    this.#inEtcd.clear();
    for (const idHex of this.#held.keys()) this.#dirty.add(idHex);
    // a batch in flight on the old lease is reported failed by its sender and re-queued then.
  }

  #finish(batch: RegistrationBatch): void {
    if (this.#inFlight !== batch) throw new Error("committed/failed of a batch that is not in flight");
    this.#inFlight = null;
  }
}
