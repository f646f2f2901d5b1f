/**
 * Worker entry point: hashes ranges of the arena off the store's event loop (see hash-service.ts). A
 * Worker shares the store's address space but can map nothing new, so each job carries the arena's
 * address as a number and the worker views the range there.
 */
import { viewOf } from "../ffi/mapping.ts";

/** One range to hash: XXH64 of arena bytes [offset, offset + lengthBytes). */
export interface HashJob {
  readonly jobId: number;
  readonly arenaAddress: number;
  readonly offset: number;
  readonly lengthBytes: number;
}

export type HashJobResult =
  | { readonly jobId: number; readonly digest: bigint }
  | { readonly jobId: number; readonly error: string };

/**
 * The worker's only access to the arena: the bytes of one range. Kept to this one function so the arena
 * access can be swapped (e.g. pread on a `-d` file instead of the mapping) without touching the rest.
 */
function arenaRange(job: HashJob): Uint8Array {
  return new Uint8Array(viewOf(job.arenaAddress, job.offset, job.lengthBytes));
}

function hashJob(job: HashJob): HashJobResult {
  try {
    return { jobId: job.jobId, digest: BigInt.asUintN(64, BigInt(Bun.hash.xxHash64(arenaRange(job)))) };
  } catch (error) {
    return { jobId: job.jobId, error: (error as Error).message };
  }
}

declare const self: Worker;

self.onmessage = (event: MessageEvent<HashJob>) => {
  self.postMessage(hashJob(event.data));
};
