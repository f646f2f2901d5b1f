import { ptr } from "bun:ffi";

/** Smallest slice worth a thread: below it, handing the job over costs more than it saves. */
const PARALLEL_COPY_MIN_SLICE_BYTES = 8 * 1024 * 1024;
/** Most threads a copier may use. */
const MAX_COPY_THREADS = 64;
const PAGE_BYTES = 4096;

/** Throws RangeError unless `threads` is an integer from 1 to MAX_COPY_THREADS. */
export function checkCopyThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_COPY_THREADS) {
    throw new RangeError(`copyThreads must be an integer from 1 to ${MAX_COPY_THREADS}, got ${threads}.`);
  }
}

interface CopyJob {
  src: number;
  dst: number;
  bytes: number;
}

// Workers live in this process: they reach both buffers through their addresses.
const WORKER_SOURCE = `
import { toArrayBuffer } from "bun:ffi";
self.onmessage = (event) => {
  const { src, dst, bytes } = event.data;
  new Uint8Array(toArrayBuffer(dst, 0, bytes)).set(new Uint8Array(toArrayBuffer(src, 0, bytes)));
  self.postMessage(0);
};
`;

/**
 * Parallel copy into shared memory, as Plasma's `memcopy_threads`: worker threads each copy a disjoint,
 * page-aligned slice of the source while the calling thread copies the first one. Copies run one at a
 * time, in call order. Workers do not keep the process alive; `close()` ends them.
 *
 * Both buffers must stay valid until the promise settles: the caller keeps them referenced, and nobody
 * may transfer, resize or unmap them meanwhile (a worker would read or write freed memory).
 */
export class ParallelCopier {
  readonly threads: number;
  readonly #workers: Bun.Worker[] = [];
  readonly #url: string;
  #tail: Promise<void> = Promise.resolve();
  #closed = false;

  /** `threads` counts the calling thread: 2 means one worker plus the caller. */
  constructor(threads: number) {
    checkCopyThreads(threads);
    this.threads = threads;
    this.#url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/typescript" }));
    for (let i = 1; i < threads; i++) {
      // Bun's Worker (ref/unref); the global type may be the DOM one when lib.dom is loaded.
      const worker = new Worker(this.#url) as unknown as Bun.Worker;
      worker.unref();
      this.#workers.push(worker);
    }
  }

  /** Copies `src` into the start of `dst`, splitting the work across the threads. */
  copy(dst: Uint8Array, src: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("The parallel copier is closed."));
    if (dst.length < src.length) {
      return Promise.reject(
        new RangeError(`The target (${dst.length} bytes) is shorter than the source (${src.length} bytes).`),
      );
    }
    const run = this.#tail.then(() => this.#copyNow(dst, src));
    this.#tail = run.catch(() => {});
    return run;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const worker of this.#workers) worker.terminate();
    URL.revokeObjectURL(this.#url);
  }

  async #copyNow(dst: Uint8Array, src: Uint8Array): Promise<void> {
    const total = src.length;
    const parts = Math.min(this.threads, Math.max(1, Math.floor(total / PARALLEL_COPY_MIN_SLICE_BYTES)));
    if (parts === 1 || this.#closed) {
      dst.set(src);
      return;
    }
    const slice = Math.ceil(total / parts / PAGE_BYTES) * PAGE_BYTES;
    const srcAddress = ptr(src);
    const dstAddress = ptr(dst);
    const done: Promise<void>[] = [];
    for (let p = 1; p < parts; p++) {
      const start = p * slice;
      const bytes = Math.min(slice, total - start);
      if (bytes <= 0) break;
      done.push(
        this.#run(this.#workers[p - 1] as Bun.Worker, {
          src: srcAddress + start,
          dst: dstAddress + start,
          bytes,
        }),
      );
    }
    dst.set(src.subarray(0, Math.min(slice, total)));
    await Promise.all(done);
    // Both buffers stay referenced (so mapped and allocated) until every worker has finished.
    if (dst.length < total || src.length !== total) throw new Error("a buffer changed size during the copy");
  }

  #run(worker: Bun.Worker, job: CopyJob): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // Referenced while it works, so the process waits for the copy; idle workers keep nothing alive.
      worker.ref();
      worker.onmessage = () => {
        worker.unref();
        resolve();
      };
      worker.onerror = (event) => {
        worker.unref();
        reject(new Error(`A copy thread failed: ${event.message}`));
      };
      worker.postMessage(job);
    });
  }
}
