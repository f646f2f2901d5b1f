/**
 * "An object that is not in memory can be made local by someone": the core's hook for edges (the cluster's
 * pulls from other stores, spilled objects read back from disk) that can fetch an object a get asks for.
 * Pure bookkeeping: which keys are being fetched, and until when their gets wait.
 */

export interface MissingObjectSource {
  /**
   * A get or getMetadata asks for `key` (the id's bytes in `id`), not in memory. Return true if this source
   * will try to make it local: the core then keeps those gets waiting for it (even with timeout 0) until
   * the object is sealed locally (the gets resolve as for any seal) or the source calls
   * `core.sourceFinished(key, outcome)`. Return false if it has nothing. `waitMs` is how long the longest
   * waiting get waits (-1 forever, 0 not at all: answer what you have now). Called at most once per key
   * while a fetch of it is running; must not call sourceFinished before it returns.
   */
  request(key: string, id: Uint8Array, waitMs: number): boolean;
}

interface Fetch {
  /** Monotonic ms the running fetch was asked to wait until (Infinity: forever). */
  readonly deadlineMs: number;
  /** The latest deadline of the gets that joined since (a reason to ask again if it finds nothing). */
  wantedMs: number;
}

/** The sources, in the order they are asked, and the fetches they are running. */
export class SourceFetches {
  readonly #sources: MissingObjectSource[] = [];
  readonly #running = new Map<string, Fetch>();

  add(source: MissingObjectSource): void {
    this.#sources.push(source);
  }

  get hasSources(): boolean {
    return this.#sources.length > 0;
  }

  /** Fetches running now. */
  get size(): number {
    return this.#running.size;
  }

  isRunning(key: string): boolean {
    return this.#running.has(key);
  }

  /**
   * A get waiting until `deadlineMs` (monotonic, Infinity forever) needs `key`: joins the running fetch,
   * or asks the sources in order. True if a fetch of it is running now.
   */
  request(key: string, deadlineMs: number, nowMs: number): boolean {
    const running = this.#running.get(key);
    if (running !== undefined) {
      running.wantedMs = Math.max(running.wantedMs, deadlineMs);
      return true;
    }
    const waitMs = deadlineMs === Number.POSITIVE_INFINITY ? -1 : Math.max(0, Math.ceil(deadlineMs - nowMs));
    const id = idOfKey(key);
    for (const source of this.#sources) {
      if (source.request(key, id, waitMs)) {
        this.#running.set(key, { deadlineMs, wantedMs: deadlineMs });
        return true;
      }
    }
    return false;
  }

  /**
   * The fetch of `key` ended. Returns the latest deadline a get that joined it still waits for, beyond
   * the one the fetch was asked for (a reason to ask the sources again), or null.
   */
  finish(key: string): number | null {
    const running = this.#running.get(key);
    if (running === undefined) return null;
    this.#running.delete(key);
    return running.wantedMs > running.deadlineMs ? running.wantedMs : null;
  }
}

/** The object id whose key (latin1 of the bytes, see objectKey) this is. */
export function idOfKey(key: string): Uint8Array {
  const id = new Uint8Array(key.length);
  for (let i = 0; i < key.length; i++) id[i] = key.charCodeAt(i);
  return id;
}
