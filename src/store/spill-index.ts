/**
 * Which objects are spilled and what they cost on disk (pure core, no I/O). Tracks the disk budget
 * (committed file bytes plus reservations of spills in flight), the restores in flight with the waiters
 * that share each one, and the "budget exhausted" episode so a drop is logged once per episode.
 */
import { assert } from "./assert.ts";

export interface SpilledSizes {
  dataSizeBytes: number;
  metadataSizeBytes: number;
  /** Bytes of the file on disk (header + data + metadata): what counts against the budget. */
  fileBytes: number;
}

/** Why a victim was dropped instead of spilled. */
export type SpillDropReason = "budget" | "disk-full" | "io-error";

export interface DropRecord {
  /** True for the first drop of an episode: log it now. Later drops of the episode are only counted. */
  startsEpisode: boolean;
}

export class SpillIndex<Waiter> {
  readonly #budgetBytes: number;
  readonly #spilled = new Map<string, SpilledSizes>();
  readonly #inFlight = new Map<string, SpilledSizes>();
  readonly #restores = new Map<string, Waiter[]>();
  readonly #drops: Record<SpillDropReason, number> = { budget: 0, "disk-full": 0, "io-error": 0 };
  #usedBytes = 0;
  #reservedBytes = 0;
  #inEpisode = false;

  constructor(budgetBytes: number) {
    if (!Number.isSafeInteger(budgetBytes) || budgetBytes < 0) {
      throw new RangeError(`The spill budget must be a non-negative integer of bytes, got ${budgetBytes}.`);
    }
    this.#budgetBytes = budgetBytes;
  }

  get budgetBytes(): number {
    return this.#budgetBytes;
  }
  /** File bytes of committed spills. */
  get usedBytes(): number {
    return this.#usedBytes;
  }
  /** File bytes reserved by spills in flight. */
  get reservedBytes(): number {
    return this.#reservedBytes;
  }
  get spilledCount(): number {
    return this.#spilled.size;
  }
  get inFlightCount(): number {
    return this.#inFlight.size;
  }
  get inEpisode(): boolean {
    return this.#inEpisode;
  }
  drops(): Readonly<Record<SpillDropReason, number>> {
    return { ...this.#drops };
  }

  isSpilled(key: string): boolean {
    return this.#spilled.has(key);
  }
  isSpilling(key: string): boolean {
    return this.#inFlight.has(key);
  }
  isRestoring(key: string): boolean {
    return this.#restores.has(key);
  }
  get(key: string): Readonly<SpilledSizes> | undefined {
    return this.#spilled.get(key);
  }
  keys(): IterableIterator<string> {
    return this.#spilled.keys();
  }

  /** Whether a file of `fileBytes` fits in the budget next to what is used and reserved. */
  fits(fileBytes: number): boolean {
    return this.#usedBytes + this.#reservedBytes + fileBytes <= this.#budgetBytes;
  }

  /** Reserves budget for a spill about to start; false (nothing reserved) when it does not fit. */
  reserve(key: string, sizes: SpilledSizes): boolean {
    checkSizes(sizes);
    assert(
      !this.#spilled.has(key) && !this.#inFlight.has(key),
      "reserve of an object already spilled or spilling",
    );
    if (!this.fits(sizes.fileBytes)) return false;
    this.#inFlight.set(key, { ...sizes });
    this.#reservedBytes += sizes.fileBytes;
    return true;
  }

  /** The spill's file is durable: the object is spilled. A successful spill ends a drop episode. */
  commit(key: string): void {
    const sizes = this.#takeInFlight(key, "commit");
    this.#spilled.set(key, sizes);
    this.#usedBytes += sizes.fileBytes;
    this.#inEpisode = false;
  }

  /** The spill failed or was abandoned: its reservation is released. */
  cancel(key: string): void {
    this.#takeInFlight(key, "cancel");
  }

  /** A file found at start-up: spilled without a reservation (it is on disk already, even past the budget). */
  adopt(key: string, sizes: SpilledSizes): void {
    checkSizes(sizes);
    assert(
      !this.#spilled.has(key) && !this.#inFlight.has(key),
      "adopt of an object already spilled or spilling",
    );
    this.#spilled.set(key, { ...sizes });
    this.#usedBytes += sizes.fileBytes;
  }

  /**
   * The object's file is gone (deleted, or restored and removed): its bytes leave the budget. A restore
   * in flight keeps its waiters; finishRestore still returns them.
   */
  remove(key: string): SpilledSizes | undefined {
    const sizes = this.#spilled.get(key);
    if (sizes === undefined) return undefined;
    this.#spilled.delete(key);
    this.#usedBytes -= sizes.fileBytes;
    return sizes;
  }

  /** Counts a victim dropped instead of spilled; the first drop since the last successful spill starts an episode. */
  recordDrop(reason: SpillDropReason): DropRecord {
    this.#drops[reason]++;
    const startsEpisode = !this.#inEpisode;
    this.#inEpisode = true;
    return { startsEpisode };
  }

  /**
   * Joins `waiter` to the restore of a spilled object. "start" means no restore was running: the caller
   * starts one; "joined" means one is running and will finish for this waiter too.
   */
  beginRestore(key: string, waiter: Waiter): "start" | "joined" {
    assert(this.#spilled.has(key), "restore of an object that is not spilled");
    const waiters = this.#restores.get(key);
    if (waiters !== undefined) {
      waiters.push(waiter);
      return "joined";
    }
    this.#restores.set(key, [waiter]);
    return "start";
  }

  /** The restore ended (either way): every waiter that shared it, in join order. */
  finishRestore(key: string): Waiter[] {
    const waiters = this.#restores.get(key);
    assert(waiters !== undefined, "finishRestore without a restore in flight");
    this.#restores.delete(key);
    return waiters;
  }

  /** Throws (store invariant) when the byte counts disagree with the tables. */
  checkInvariants(): void {
    let used = 0;
    for (const sizes of this.#spilled.values()) used += sizes.fileBytes;
    let reserved = 0;
    for (const [key, sizes] of this.#inFlight) {
      reserved += sizes.fileBytes;
      assert(!this.#spilled.has(key), "an object both spilled and spilling");
    }
    assert(used === this.#usedBytes, `usedBytes ${this.#usedBytes} != sum of files ${used}`);
    assert(
      reserved === this.#reservedBytes,
      `reservedBytes ${this.#reservedBytes} != sum of reservations ${reserved}`,
    );
    // A restore may outlive its entry: remove() during a restore is allowed (a delete of an object being
    // restored), and finishRestore still hands back the restore's waiters. So #restores is not a subset
    // of #spilled, and nothing is asserted about it here.
  }

  #takeInFlight(key: string, what: string): SpilledSizes {
    const sizes = this.#inFlight.get(key);
    assert(sizes !== undefined, `${what} of a spill not in flight`);
    this.#inFlight.delete(key);
    this.#reservedBytes -= sizes.fileBytes;
    return sizes;
  }
}

function checkSizes(sizes: SpilledSizes): void {
  for (const value of [sizes.dataSizeBytes, sizes.metadataSizeBytes, sizes.fileBytes]) {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new RangeError(`Spill sizes are non-negative integers, got ${value}.`);
  }
}
