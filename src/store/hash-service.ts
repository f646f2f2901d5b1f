/**
 * Object hashes (the Hash request) without stalling the event loop. Small objects are hashed inline; a
 * larger one is hashed by a Worker while the requesting clients hold a store reference to it (it cannot
 * be evicted or deleted meanwhile), and the digest is cached per object (objects are immutable once
 * sealed) until the object leaves the store. Concurrent requests for one object share one computation;
 * computations of different objects run one after another in the worker.
 *
 * The reference a hash holds is an ordinary reference of the requesting client, taken as a get takes it
 * (so it counts as a get hit and a use for the eviction policy) and given back when the digest is ready.
 */
import type { Logger } from "../log.ts";
import { ObjectNotFoundError, PlasmaError } from "../protocol/errors.ts";
import type { ArenaReadTarget } from "./arena-access.ts";
import type { HashFigures } from "./debug-string.ts";
import type { HashJob, HashJobResult } from "./hash-worker.ts";
import { hexOf, type StoreCore } from "./store.ts";

/** Objects (data + metadata) up to this size are hashed on the event loop: about 0.1 ms here. */
export const INLINE_HASH_MAX_BYTES = 1024 * 1024;

/** Called once with the 8-byte digest, or the error to send back. */
export type HashDone = (result: Uint8Array | PlasmaError) => void;

export interface HashServiceOptions {
  core: StoreCore;
  /** Address of the store's mapping of the arena (the worker views it there in `mapped` mode). */
  arenaAddress: number;
  /** Where the worker preads the arena instead of touching the mapping (`-d` files, huge pages), or null. */
  arenaReadTarget: ArenaReadTarget | null;
  /** Arena bytes [offset, offset + lengthBytes), for inline hashes (the server's own view). */
  readArena(offset: number, lengthBytes: number): Uint8Array;
  /** Called before the worker reads the arena (the server checks a `-d` file still has its size). */
  beforeArenaRead(): void;
  logger: Logger;
  /** The digest of a spilled object, from its spill file's header (which has the same XXH64). */
  spilledDigest?: (key: string) => bigint;
}

interface HashWaiter {
  readonly clientId: number;
  readonly done: HashDone;
}

interface HashComputation {
  readonly job: HashJob;
  readonly key: string;
  readonly waiters: HashWaiter[];
  /** The object left the store while it was hashed: the result is not its digest. */
  removed: boolean;
}

/** XXH64 as 8 big-endian bytes, the Hash reply's format. */
export function digestBytes(digest: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, digest), false);
  return out;
}

export class HashService {
  readonly #o: HashServiceOptions;
  readonly #cache = new Map<string, Uint8Array>();
  /** Computations by object key, while they are queued or running. */
  readonly #byKey = new Map<string, HashComputation>();
  /** Computations in order; the head is in the worker. */
  readonly #queue: HashComputation[] = [];
  readonly #unlisten: () => void;
  #worker: Worker | null = null;
  #nextJobId = 1;
  #computed = 0;
  #fromCache = 0;
  /** Resolves close() once the worker no longer reads the arena. */
  #onIdle: (() => void) | null = null;
  #closed = false;

  constructor(options: HashServiceOptions) {
    this.#o = options;
    this.#unlisten = options.core.onEvent((event) => {
      if (event.kind === "object_deleted" || event.kind === "object_evicted") this.#forget(event.entry.key);
    });
  }

  /** Hashes computed off the event loop, answered from the cache, and running now. */
  get figures(): HashFigures {
    return { computed: this.#computed, cached: this.#fromCache, running: this.#queue.length };
  }

  /**
   * Hashes the sealed object `key` for the client: calls `done` synchronously for small or cached
   * objects, later for the rest. Throws ObjectNotFoundError / ObjectNotSealedError synchronously.
   */
  hash(clientId: number, key: string, done: HashDone): void {
    const core = this.#o.core;
    const spilledDigest = this.#o.spilledDigest;
    if (spilledDigest !== undefined && core.spilledObject(key) !== undefined) {
      done(digestBytes(spilledDigest(key)));
      return;
    }
    const entry = core.sealedEntry(key);
    const lengthBytes = entry.dataSize + entry.metadataSize;
    if (lengthBytes <= INLINE_HASH_MAX_BYTES) {
      const bytes = lengthBytes === 0 ? new Uint8Array(0) : this.#o.readArena(entry.offset, lengthBytes);
      done(digestBytes(BigInt(Bun.hash.xxHash64(bytes))));
      return;
    }
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      this.#fromCache++;
      done(cached);
      return;
    }
    if (this.#closed) throw new PlasmaError("The store is stopping; it hashes nothing more.");
    // The client's reference keeps the object in the store until its digest is ready.
    core.getNow(clientId, [key]);
    let computation = this.#byKey.get(key);
    if (computation === undefined) {
      const job = {
        jobId: this.#nextJobId++,
        arenaAddress: this.#o.arenaAddress,
        readTarget: this.#o.arenaReadTarget,
        offset: entry.offset,
        lengthBytes,
      };
      computation = { job, key, waiters: [], removed: false };
      this.#byKey.set(key, computation);
      this.#queue.push(computation);
      if (this.#queue.length === 1) this.#start(computation);
    }
    computation.waiters.push({ clientId, done });
  }

  /** Stops hashing: fails queued computations, waits for the running one to stop reading the arena. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unlisten();
    const stopping = new PlasmaError("The store is stopping; the hash was not computed.");
    for (const computation of this.#queue.splice(1)) this.#settle(computation, stopping);
    if (this.#queue.length > 0) await new Promise<void>((resolve) => (this.#onIdle = resolve));
    this.#worker?.terminate();
    this.#worker = null;
  }

  #start(computation: HashComputation): void {
    this.#o.beforeArenaRead();
    this.#workerThread().postMessage(computation.job);
  }

  #workerThread(): Worker {
    if (this.#worker !== null) return this.#worker;
    const worker = new Worker(new URL("./hash-worker.ts", import.meta.url).href);
    worker.onmessage = (event: MessageEvent<HashJobResult>) => this.#finished(event.data);
    worker.onerror = (event: ErrorEvent) => this.#workerFailed(event.message);
    // Bun's Worker has unref (the global type may be the DOM's): an idle worker keeps no process alive.
    (worker as unknown as Bun.Worker).unref();
    this.#worker = worker;
    return worker;
  }

  #finished(result: HashJobResult): void {
    const computation = this.#queue[0];
    if (computation === undefined || computation.job.jobId !== result.jobId) {
      this.#o.logger.error({ jobId: result.jobId }, "hash worker answered a job it was not given");
      return;
    }
    this.#queue.shift();
    let reply: Uint8Array | PlasmaError;
    if ("error" in result) {
      reply = new PlasmaError(`Could not hash object ${hexOf(computation.key)}: ${result.error}`);
    } else if (computation.removed) {
      reply = new ObjectNotFoundError(`Object ${hexOf(computation.key)} left the store while it was hashed.`);
    } else {
      this.#computed++;
      reply = digestBytes(result.digest);
      this.#cache.set(computation.key, reply);
    }
    this.#settle(computation, reply);
    this.#next();
  }

  #workerFailed(message: string): void {
    this.#o.logger.error({ err: message }, "hash worker failed; hashes in progress fail");
    this.#worker?.terminate();
    this.#worker = null;
    const failure = new PlasmaError(`The store's hash worker failed: ${message}`);
    for (const computation of this.#queue.splice(0)) this.#settle(computation, failure);
    this.#next();
  }

  /** Starts the next computation, or tells close() the worker is idle. */
  #next(): void {
    const head = this.#queue[0];
    if (head !== undefined) {
      this.#start(head);
      return;
    }
    this.#onIdle?.();
    this.#onIdle = null;
  }

  /** Answers every waiter and gives back the references they held for it. */
  #settle(computation: HashComputation, reply: Uint8Array | PlasmaError): void {
    if (this.#byKey.get(computation.key) === computation) this.#byKey.delete(computation.key);
    const core = this.#o.core;
    for (const waiter of computation.waiters) {
      if (core.client(waiter.clientId) !== undefined) {
        try {
          core.release(waiter.clientId, computation.key, 1);
        } catch (error) {
          // The client released this reference itself: nothing left to give back.
          if (!(error instanceof PlasmaError)) throw error;
        }
      }
      waiter.done(reply);
    }
  }

  /** The object left the store: its digest is no longer valid, and a running hash is not its digest. */
  #forget(key: string): void {
    this.#cache.delete(key);
    const computation = this.#byKey.get(key);
    if (computation === undefined) return;
    computation.removed = true;
    this.#byKey.delete(key);
  }
}
