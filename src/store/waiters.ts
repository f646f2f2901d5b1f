/**
 * Blocked gets: each waiter waits for a set of keys to be sealed, or for its timeout. Pure bookkeeping:
 * the store core decides when a waiter is done and what it answers.
 */
export class GetWaiter<Handle = unknown> {
  /** Keys still unsealed, each counted once. */
  readonly remaining: Set<string>;
  timer: Handle | null = null;
  finished = false;

  /**
   * `immediate`: a get with timeout 0 that waits only for keys a MissingObjectSource is fetching; `fail`
   * answers it with an error (a fetch that failed), when the get has an error path.
   */
  constructor(
    readonly clientId: number,
    readonly keys: readonly string[],
    unsealed: Iterable<string>,
    readonly complete: () => void,
    readonly immediate = false,
    readonly fail: ((error: Error) => void) | null = null,
  ) {
    this.remaining = new Set(unsealed);
  }
}

export class WaiterRegistry<Handle = unknown> {
  readonly #byKey = new Map<string, Set<GetWaiter<Handle>>>();
  #count = 0;

  /** Waiters currently blocked. */
  get size(): number {
    return this.#count;
  }

  add(waiter: GetWaiter<Handle>): void {
    for (const key of waiter.remaining) {
      let set = this.#byKey.get(key);
      if (set === undefined) {
        set = new Set();
        this.#byKey.set(key, set);
      }
      set.add(waiter);
    }
    this.#count++;
  }

  /** The key was sealed: returns the waiters that now have everything they wait for (already removed). */
  sealed(key: string): GetWaiter<Handle>[] {
    const set = this.#byKey.get(key);
    if (set === undefined) return [];
    this.#byKey.delete(key);
    const ready: GetWaiter<Handle>[] = [];
    for (const waiter of set) {
      waiter.remaining.delete(key);
      if (waiter.remaining.size === 0) {
        waiter.finished = true;
        this.#count--;
        ready.push(waiter);
      }
    }
    return ready;
  }

  /** Removes a waiter (timeout or disconnect). Returns false if it was already finished. */
  remove(waiter: GetWaiter<Handle>): boolean {
    if (waiter.finished) return false;
    waiter.finished = true;
    this.#count--;
    for (const key of waiter.remaining) {
      const set = this.#byKey.get(key);
      if (set === undefined) continue;
      set.delete(waiter);
      if (set.size === 0) this.#byKey.delete(key);
    }
    return true;
  }

  /** The waiters that wait for the key (a copy). */
  waitersOf(key: string): GetWaiter<Handle>[] {
    const set = this.#byKey.get(key);
    return set === undefined ? [] : [...set];
  }

  /**
   * The waiter stops waiting for the key (a fetch found nothing for a get that does not wait). Returns
   * true if it now has nothing left to wait for (it is then finished and removed).
   */
  giveUp(waiter: GetWaiter<Handle>, key: string): boolean {
    if (waiter.finished || !waiter.remaining.delete(key)) return false;
    const set = this.#byKey.get(key);
    set?.delete(waiter);
    if (set?.size === 0) this.#byKey.delete(key);
    if (waiter.remaining.size > 0) return false;
    waiter.finished = true;
    this.#count--;
    return true;
  }

  /** Keys some waiter waits for (for invariant checks). */
  waitedKeys(): IterableIterator<string> {
    return this.#byKey.keys();
  }
}
