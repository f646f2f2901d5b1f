/**
 * The main-thread face of the spill worker: `spill` writes an object's data ‖ metadata to
 * `DIR/<idhex>.spill` (under `<idhex>.tmp` first, fsynced, renamed, directory fsynced) and `restore`
 * reads a file straight into a destination (an arena region), verifying its checksum before resolving.
 * All disk I/O happens in two worker threads, one for spills and one for restores, jobs of each kind in
 * call order: a restore (a client's get waits for it) never queues behind a large spill's write and fsync.
 * `close()` cancels what is in flight.
 *
 * A source or destination must stay mapped and unchanged until its promise settles.
 */
import { ptr } from "bun:ffi";
import { OBJECT_ID_BYTES } from "../protocol/object-id.ts";
import { SpillCancelledError, SpillDiskFullError, SpillFormatError, SpillIoError } from "./errors.ts";
import type { WorkerFailure, WorkerReply, WorkerRequest } from "./messages.ts";

/** Bytes per positioned write or read in the worker (between two checks for cancellation). */
export const DEFAULT_SPILL_CHUNK_BYTES = 8 * 1024 * 1024;

/** An object's data ‖ metadata at an address of this process (an arena's base pointer + offset). */
export interface ArenaRegion {
  pointer: number;
  offsetBytes: number;
}

/** Where the content is: an arena region, or a view (its length must be dataSize + metadataSize). */
export type SpillRegion = ArenaRegion | Uint8Array;

export interface SpillJob {
  id: Uint8Array;
  dataSizeBytes: number;
  metadataSizeBytes: number;
  source: SpillRegion;
}

export interface RestoreJob {
  id: Uint8Array;
  dataSizeBytes: number;
  metadataSizeBytes: number;
  /** The file `spill` returned (or a scan found). */
  path: string;
}

export interface SpillResult {
  path: string;
  /** Bytes of the file on disk: header + data + metadata. */
  sizeBytes: number;
}

interface Pending {
  resolve: (result: SpillResult) => void;
  reject: (error: Error) => void;
  /** Keeps a view passed as a region reachable (so mapped) until the worker is done with it. */
  keepAlive: SpillRegion;
  worker: JobWorker;
}

/** One worker thread and the number of its jobs not yet settled (it keeps the process alive while > 0). */
interface JobWorker {
  readonly thread: Bun.Worker;
  inFlight: number;
}

export class SpillFiles {
  readonly directory: string;
  readonly #spills: JobWorker;
  readonly #restores: JobWorker;
  readonly #cancel = new SharedArrayBuffer(4);
  readonly #pending = new Map<number, Pending>();
  #nextJobId = 1;
  #closed = false;

  constructor(directory: string, options: { chunkBytes?: number } = {}) {
    const chunkBytes = options.chunkBytes ?? DEFAULT_SPILL_CHUNK_BYTES;
    if (!Number.isInteger(chunkBytes) || chunkBytes < 1) {
      throw new RangeError(`chunkBytes must be a positive integer, got ${chunkBytes}.`);
    }
    this.directory = directory;
    this.#spills = this.#startWorker(chunkBytes);
    this.#restores = this.#startWorker(chunkBytes);
  }

  #startWorker(chunkBytes: number): JobWorker {
    // Bun's Worker (ref/unref); the global type may be the DOM one when lib.dom is loaded.
    const thread = new Worker(new URL("./worker.ts", import.meta.url)) as unknown as Bun.Worker;
    thread.unref();
    thread.addEventListener("message", (event) => this.#settle((event as MessageEvent<WorkerReply>).data));
    thread.onerror = (event) =>
      this.#failAll(new SpillIoError(`The spill worker failed: ${event.message}`, noIo(this.directory)));
    const init: WorkerRequest = { kind: "init", cancel: this.#cancel, chunkBytes };
    thread.postMessage(init);
    return { thread, inFlight: 0 };
  }

  /** Number of jobs posted and not yet settled. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** Writes the object's file; resolves once it is durable under its final name. */
  spill(job: SpillJob): Promise<SpillResult> {
    return this.#submit(this.#spills, job.source, job, (jobId, pointer) => ({
      kind: "spill",
      jobId,
      directory: this.directory,
      id: Uint8Array.from(job.id),
      dataSizeBytes: job.dataSizeBytes,
      metadataSizeBytes: job.metadataSizeBytes,
      pointer,
    }));
  }

  /**
   * Reads the file into `destination` and checks it. Resolves only for verified bytes; on rejection the
   * destination holds garbage and the caller must not publish it.
   */
  async restore(job: RestoreJob, destination: SpillRegion): Promise<void> {
    await this.#submit(this.#restores, destination, job, (jobId, pointer) => ({
      kind: "restore",
      jobId,
      path: job.path,
      id: Uint8Array.from(job.id),
      dataSizeBytes: job.dataSizeBytes,
      metadataSizeBytes: job.metadataSizeBytes,
      pointer,
    }));
  }

  /** Cancels every job in flight or queued (they reject with SpillCancelledError), then ends the worker. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    Atomics.store(new Int32Array(this.#cancel), 0, 1);
    const settled = [...this.#pending.values()].map(
      (p) =>
        new Promise<void>((done) => {
          const { resolve, reject } = p;
          p.resolve = (r) => {
            resolve(r);
            done();
          };
          p.reject = (e) => {
            reject(e);
            done();
          };
        }),
    );
    await Promise.all(settled);
    this.#spills.thread.terminate();
    this.#restores.thread.terminate();
  }

  #submit(
    worker: JobWorker,
    region: SpillRegion,
    sizes: { id: Uint8Array; dataSizeBytes: number; metadataSizeBytes: number },
    request: (jobId: number, pointer: number) => WorkerRequest,
  ): Promise<SpillResult> {
    if (this.#closed) return Promise.reject(new SpillCancelledError("The spill files are closed."));
    checkSizes(sizes);
    const contentBytes = sizes.dataSizeBytes + sizes.metadataSizeBytes;
    const pointer = regionPointer(region, contentBytes);
    const jobId = this.#nextJobId++;
    return new Promise<SpillResult>((resolve, reject) => {
      this.#pending.set(jobId, { resolve, reject, keepAlive: region, worker });
      if (worker.inFlight++ === 0) worker.thread.ref();
      worker.thread.postMessage(request(jobId, pointer));
    });
  }

  #settle(reply: WorkerReply): void {
    const pending = this.#pending.get(reply.jobId);
    if (pending === undefined) return;
    this.#pending.delete(reply.jobId);
    if (--pending.worker.inFlight === 0) pending.worker.thread.unref();
    if (reply.ok) pending.resolve({ path: reply.path, sizeBytes: reply.sizeBytes });
    else pending.reject(fromFailure(reply.failure));
  }

  #failAll(error: Error): void {
    const all = [...this.#pending.values()];
    this.#pending.clear();
    for (const worker of [this.#spills, this.#restores]) {
      worker.inFlight = 0;
      worker.thread.unref();
    }
    for (const p of all) p.reject(error);
  }
}

function checkSizes(job: { id: Uint8Array; dataSizeBytes: number; metadataSizeBytes: number }): void {
  if (job.id.length !== OBJECT_ID_BYTES)
    throw new TypeError(`An id is ${OBJECT_ID_BYTES} bytes, got ${job.id.length}.`);
  for (const [name, value] of [
    ["dataSizeBytes", job.dataSizeBytes],
    ["metadataSizeBytes", job.metadataSizeBytes],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new RangeError(`${name} must be a non-negative integer, got ${value}.`);
  }
}

function regionPointer(region: SpillRegion, contentBytes: number): number {
  if (region instanceof Uint8Array) {
    if (region.length !== contentBytes) {
      throw new RangeError(
        `The view is ${region.length} bytes, the object ${contentBytes} (data + metadata).`,
      );
    }
    return contentBytes === 0 ? 0 : ptr(region);
  }
  if (contentBytes === 0) return 0;
  if (
    !Number.isSafeInteger(region.pointer) ||
    region.pointer <= 0 ||
    !Number.isSafeInteger(region.offsetBytes) ||
    region.offsetBytes < 0
  ) {
    throw new RangeError(
      `An arena region needs a positive pointer and a non-negative offset, got ${region.pointer} + ${region.offsetBytes}.`,
    );
  }
  return region.pointer + region.offsetBytes;
}

function noIo(path: string): { syscall: string; errno: string; path: string } {
  return { syscall: "worker", errno: "UNKNOWN", path };
}

/** Rebuilds the typed error a worker reported. */
function fromFailure(failure: WorkerFailure): Error {
  switch (failure.kind) {
    case "cancelled":
      return new SpillCancelledError(failure.message);
    case "format":
      return new SpillFormatError(failure.problem, failure.message);
    case "io": {
      const io = { syscall: failure.syscall, errno: failure.errno, path: failure.path };
      const cause = Object.assign(new Error(failure.message), {
        code: failure.errno,
        syscall: failure.syscall,
        path: failure.path,
      });
      if (failure.errno === "ENOSPC" || failure.errno === "EDQUOT") {
        return new SpillDiskFullError(`The spill disk is full: ${failure.message}`, io, { cause });
      }
      return new SpillIoError(`A spill file operation failed: ${failure.message}`, io, { cause });
    }
    case "other":
      return new SpillIoError(`The spill worker failed: ${failure.message}`, {
        syscall: "worker",
        errno: "UNKNOWN",
        path: "",
      });
  }
}
