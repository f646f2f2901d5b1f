/**
 * The spill worker thread: writes and reads spill files with positioned, chunked writeSync/readSync so
 * the store's thread never waits on the disk. It reaches the arena through addresses (same process).
 * Jobs run one at a time, in the order they were posted.
 */
import { toArrayBuffer } from "bun:ffi";
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  openSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { SpillFormatError } from "./errors.ts";
import {
  decodeHeader,
  encodeHeader,
  SPILL_HEADER_BYTES,
  spillFileBytes,
  spillFileName,
  spillTmpName,
  xxh64,
} from "./format.ts";
import type { WorkerFailure, WorkerReply, WorkerRequest, WorkerRestore, WorkerSpill } from "./messages.ts";

declare const self: Worker;

let cancelFlag: Int32Array<ArrayBufferLike> = new Int32Array(1);
let chunkBytes = 8 * 1024 * 1024;

class Cancelled extends Error {}

function checkCancel(): void {
  if (Atomics.load(cancelFlag, 0) !== 0) throw new Cancelled("The spill worker was closed.");
}

function region(pointer: number, lengthBytes: number): Uint8Array {
  if (lengthBytes === 0) return new Uint8Array(0);
  return new Uint8Array(toArrayBuffer(pointer, 0, lengthBytes));
}

/** Writes all of `bytes` at `position`, looping over short writes. */
function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) {
    done += writeSync(fd, bytes, done, bytes.length - done, position + done);
  }
}

function spill(job: WorkerSpill): WorkerReply {
  checkCancel();
  const contentBytes = job.dataSizeBytes + job.metadataSizeBytes;
  const source = region(job.pointer, contentBytes);
  const header = encodeHeader({
    id: job.id,
    dataSizeBytes: job.dataSizeBytes,
    metadataSizeBytes: job.metadataSizeBytes,
    contentHash: xxh64(source),
  });
  const tmpPath = join(job.directory, spillTmpName(job.id));
  const finalPath = join(job.directory, spillFileName(job.id));
  let fd = -1;
  try {
    fd = openSync(
      tmpPath,
      constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
      0o600,
    );
    writeAll(fd, header, 0);
    for (let at = 0; at < contentBytes; at += chunkBytes) {
      checkCancel();
      writeAll(fd, source.subarray(at, Math.min(contentBytes, at + chunkBytes)), SPILL_HEADER_BYTES + at);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    checkCancel();
    renameSync(tmpPath, finalPath);
  } catch (error) {
    if (fd >= 0) closeSync(fd);
    removeQuietly(tmpPath);
    throw error;
  }
  fsyncDirectory(job.directory);
  return { jobId: job.jobId, ok: true, path: finalPath, sizeBytes: SPILL_HEADER_BYTES + contentBytes };
}

function restore(job: WorkerRestore): WorkerReply {
  checkCancel();
  const contentBytes = job.dataSizeBytes + job.metadataSizeBytes;
  const destination = region(job.pointer, contentBytes);
  const fd = openSync(job.path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const header = readHeader(fd, job);
    for (let at = 0; at < contentBytes; ) {
      checkCancel();
      const want = Math.min(chunkBytes, contentBytes - at);
      const got = readSync(fd, destination, at, want, SPILL_HEADER_BYTES + at);
      if (got === 0) throw new SpillFormatError("truncated", `${job.path} ended after ${at} content bytes.`);
      at += got;
    }
    // Hashed in place in the destination: no second buffer, and nothing is returned unverified.
    if (xxh64(destination) !== header.contentHash) {
      throw new SpillFormatError("content-checksum", `${job.path}: the content does not match its checksum.`);
    }
  } finally {
    closeSync(fd);
  }
  return { jobId: job.jobId, ok: true, path: job.path, sizeBytes: SPILL_HEADER_BYTES + contentBytes };
}

function readHeader(fd: number, job: WorkerRestore): ReturnType<typeof decodeHeader> {
  const bytes = new Uint8Array(SPILL_HEADER_BYTES);
  const got = readSync(fd, bytes, 0, SPILL_HEADER_BYTES, 0);
  const header = decodeHeader(bytes.subarray(0, got));
  if (!Buffer.from(header.id).equals(Buffer.from(job.id))) {
    throw new SpillFormatError("id-mismatch", `${job.path} holds another object's id.`);
  }
  if (header.dataSizeBytes !== job.dataSizeBytes || header.metadataSizeBytes !== job.metadataSizeBytes) {
    throw new SpillFormatError(
      "id-mismatch",
      `${job.path} holds ${header.dataSizeBytes}+${header.metadataSizeBytes} bytes, expected ${job.dataSizeBytes}+${job.metadataSizeBytes}.`,
    );
  }
  const fileBytes = fstatSync(fd).size;
  if (fileBytes !== spillFileBytes(header)) {
    throw new SpillFormatError(
      "file-size",
      `${job.path} is ${fileBytes} bytes, its header says ${spillFileBytes(header)}.`,
    );
  }
  return header;
}

function fsyncDirectory(directory: string): void {
  const fd = openSync(directory, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone (never created, or removed by a scan): nothing to clean.
  }
}

function failure(error: unknown): WorkerFailure {
  if (error instanceof Cancelled) return { kind: "cancelled", message: error.message };
  if (error instanceof SpillFormatError)
    return { kind: "format", problem: error.problem, message: error.message };
  const e = error as NodeJS.ErrnoException;
  if (typeof e?.code === "string" && e.code.startsWith("E")) {
    return {
      kind: "io",
      message: e.message,
      syscall: e.syscall ?? "unknown",
      errno: e.code,
      path: e.path ?? "",
    };
  }
  return { kind: "other", message: error instanceof Error ? error.message : String(error) };
}

self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  if (request.kind === "init") {
    cancelFlag = new Int32Array(request.cancel);
    chunkBytes = request.chunkBytes;
    return;
  }
  let reply: WorkerReply;
  try {
    reply = request.kind === "spill" ? spill(request) : restore(request);
  } catch (error) {
    reply = { jobId: request.jobId, ok: false, failure: failure(error) };
  }
  self.postMessage(reply);
};
