/**
 * Parallel copy into shared memory, as Plasma's `memcopy_threads`: worker threads each copy a disjoint,
 * page-aligned slice of the source while the calling thread copies the first one. Workers live in this
 * process, so they reach both buffers through their addresses (bun:ffi `ptr` + `toArrayBuffer`).
 */
import { ptr } from "bun:ffi";

const MIN_SLICE_BYTES = 8 * 1024 * 1024;
const ALIGN = 4096;

interface CopyJob {
  src: number;
  dst: number;
  bytes: number;
}

const WORKER_SOURCE = `
import { toArrayBuffer } from "bun:ffi";
self.onmessage = (event) => {
  const { src, dst, bytes } = event.data;
  new Uint8Array(toArrayBuffer(dst, 0, bytes)).set(new Uint8Array(toArrayBuffer(src, 0, bytes)));
  self.postMessage(0);
};
`;

export class ParallelCopier {
  readonly threads: number;
  readonly #workers: Worker[] = [];
  readonly #url: string;

  /** `threads` counts the calling thread: 2 means one worker plus the caller. */
  constructor(threads: number) {
    this.threads = Math.max(1, threads);
    this.#url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/typescript" }));
    for (let i = 1; i < this.threads; i++) this.#workers.push(new Worker(this.#url));
  }

  /** Copies `src` into `dst` (same length), splitting the work across the threads. */
  async copy(dst: Uint8Array, src: Uint8Array): Promise<void> {
    const total = src.length;
    if (dst.length < total) throw new RangeError("destination is shorter than the source");
    const parts = Math.min(this.threads, Math.max(1, Math.floor(total / MIN_SLICE_BYTES)));
    if (parts === 1) {
      dst.set(src);
      return;
    }
    const slice = Math.ceil(total / parts / ALIGN) * ALIGN;
    const srcAddress = ptr(src);
    const dstAddress = ptr(dst);
    const done: Promise<void>[] = [];
    for (let p = 1; p < parts; p++) {
      const start = p * slice;
      const bytes = Math.min(slice, total - start);
      if (bytes <= 0) break;
      const worker = this.#workers[p - 1] as Worker;
      const job: CopyJob = { src: srcAddress + start, dst: dstAddress + start, bytes };
      done.push(
        new Promise<void>((resolve) => {
          worker.onmessage = () => resolve();
          worker.postMessage(job);
        }),
      );
    }
    dst.set(src.subarray(0, Math.min(slice, total)));
    await Promise.all(done);
  }

  close(): void {
    for (const worker of this.#workers) worker.terminate();
    URL.revokeObjectURL(this.#url);
  }
}
