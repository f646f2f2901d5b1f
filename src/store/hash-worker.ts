/**
 * Worker entry point: hashes ranges of the arena off the store's event loop (see hash-service.ts). A
 * Worker shares the store's address space and descriptors but can map nothing new, so each job carries
 * the arena's address and, where the store must not touch its mapping, the descriptor to pread instead.
 *
 * - `mapped` arenas (a sealed memfd, which no client can shrink): a view of the mapping, hashed in place.
 * - `file` (`-d`, a file a client can truncate) and `process-memory` (huge pages, through /proc/self/mem):
 *   pread, never the mapping, so a truncated file or a lost huge page cannot SIGBUS the store. Bytes that
 *   are gone read as zeros, as in ArenaAccess.read. An object up to WHOLE_READ_MAX_BYTES is read into one
 *   buffer and hashed with Bun's XXH64; a larger one in READ_CHUNK_BYTES pieces into one reused buffer,
 *   hashed with the streaming XXH64 of xxhash64.ts (slower, but the worker's memory stays bounded).
 */
import { preadFully } from "../ffi/file-io.ts";
import { viewOf } from "../ffi/mapping.ts";
import type { ArenaReadTarget } from "./arena-access.ts";
import { XxHash64 } from "./xxhash64.ts";

/** Largest object the worker reads into one buffer of its own (a `-d` or huge-page arena). */
export const WHOLE_READ_MAX_BYTES = 256 * 1024 * 1024;
/** The piece a larger object is read in. */
export const READ_CHUNK_BYTES = 16 * 1024 * 1024;

/** One range to hash: XXH64 of arena bytes [offset, offset + lengthBytes). */
export interface HashJob {
  readonly jobId: number;
  readonly arenaAddress: number;
  /** Null: view the mapping at arenaAddress. Otherwise pread this descriptor. */
  readonly readTarget: ArenaReadTarget | null;
  readonly offset: number;
  readonly lengthBytes: number;
}

export type HashJobResult =
  | { readonly jobId: number; readonly digest: bigint }
  | { readonly jobId: number; readonly error: string };

/**
 * Fills `target` from arena `position`; bytes past the end of a truncated file, or from the first page
 * /proc/self/mem cannot read (EIO), stay zero.
 */
function readInto(target: Uint8Array, io: ArenaReadTarget, offset: number): void {
  target.fill(0);
  try {
    preadFully(io.fd, target, io.basePosition + offset);
  } catch (error) {
    if (io.mode !== "process-memory") throw error;
  }
}

function hashByPread(job: HashJob, io: ArenaReadTarget): bigint {
  if (job.lengthBytes <= WHOLE_READ_MAX_BYTES) {
    const whole = new Uint8Array(job.lengthBytes);
    readInto(whole, io, job.offset);
    return BigInt(Bun.hash.xxHash64(whole));
  }
  const hash = new XxHash64();
  const chunk = new Uint8Array(READ_CHUNK_BYTES);
  for (let done = 0; done < job.lengthBytes; done += READ_CHUNK_BYTES) {
    const piece = chunk.subarray(0, Math.min(READ_CHUNK_BYTES, job.lengthBytes - done));
    readInto(piece, io, job.offset + done);
    hash.update(piece);
  }
  return hash.digest();
}

function digestOf(job: HashJob): bigint {
  if (job.readTarget !== null) return hashByPread(job, job.readTarget);
  return BigInt(Bun.hash.xxHash64(new Uint8Array(viewOf(job.arenaAddress, job.offset, job.lengthBytes))));
}

function hashJob(job: HashJob): HashJobResult {
  try {
    return { jobId: job.jobId, digest: BigInt.asUintN(64, digestOf(job)) };
  } catch (error) {
    return { jobId: job.jobId, error: (error as Error).message };
  }
}

declare const self: Worker;

self.onmessage = (event: MessageEvent<HashJob>) => {
  self.postMessage(hashJob(event.data));
};
