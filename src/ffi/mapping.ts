/** Mapping arena files into this process and making zero-copy views of the mapped bytes. */
import { toArrayBuffer } from "bun:ffi";
import { SYSTEM_PAGE_SIZE } from "./arena.ts";
import { check, ERRNO, errno, libc, SystemError } from "./libc.ts";
import { asPointer } from "./struct.ts";

const PROT_READ = 0x1;
const PROT_WRITE = 0x2;
const MAP_SHARED = 0x01;
const MAP_POPULATE = 0x8000;
const MADV_POPULATE_READ = 22;
const MADV_POPULATE_WRITE = 23;

/**
 * The longest single view Bun 1.4.5's toArrayBuffer makes: exactly 4 GiB (2^32 bytes) works,
 * 2^32 + 1 fails with "RangeError: Out of memory". Larger regions need several views.
 */
export const MAX_VIEW_BYTES = 2 ** 32;

export interface MapOptions {
  /** PROT_READ only. Writing through such a view kills the process with SIGSEGV. */
  readOnly?: boolean;
  /** MAP_POPULATE: fault every page in now, inside mmap. */
  populate?: boolean;
}

/** mmap(MAP_SHARED) the first `sizeBytes` of `fd`; returns the base address. */
export function mapShared(fd: number, sizeBytes: number, opts?: MapOptions): number {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) {
    throw new RangeError(`mapping size must be a positive safe integer, got ${sizeBytes}`);
  }
  const prot = opts?.readOnly === true ? PROT_READ : PROT_READ | PROT_WRITE;
  const flags = MAP_SHARED | (opts?.populate === true ? MAP_POPULATE : 0);
  const address = libc.mmap(null, sizeBytes, prot, flags, fd, 0);
  // MAP_FAILED ((void *)-1) arrives as the BigInt 2^64 - 1, never as a number.
  if (typeof address !== "number" || address === 0) {
    throw new SystemError("mmap", errno(), `${sizeBytes} bytes of fd ${fd}`);
  }
  return address;
}

/** munmap. Every view of the range must be unreachable (or transferred away) first: reading one segfaults. */
export function unmap(address: number, sizeBytes: number): void {
  check(
    "munmap",
    libc.munmap(asPointer(address), sizeBytes),
    `${sizeBytes} bytes at 0x${address.toString(16)}`,
  );
}

/**
 * A zero-copy ArrayBuffer over `lengthBytes` at `address + offset`. Arguments must be integers inside a live
 * mapping; nothing else is checked on this hot path except the length.
 */
export function viewOf(address: number, offset: number, lengthBytes: number): ArrayBuffer {
  if (lengthBytes > 0 && lengthBytes <= MAX_VIEW_BYTES) {
    return toArrayBuffer(address + offset, 0, lengthBytes);
  }
  if (lengthBytes === 0) return new ArrayBuffer(0);
  if (lengthBytes > MAX_VIEW_BYTES) {
    throw new RangeError(
      `a view is limited to 4 GiB (${MAX_VIEW_BYTES} bytes) in Bun; ${lengthBytes} bytes needs several views`,
    );
  }
  throw new RangeError(`view length must be a non-negative integer, got ${lengthBytes}`);
}

/**
 * Fault in (and allocate) every page of a writable mapping now, so later writes run at memory speed.
 * Uses madvise(MADV_POPULATE_WRITE); on kernels without it (< 5.14) touches one byte per page instead.
 * Throws SystemError (e.g. ENOMEM, EFAULT) when the pages cannot be had.
 */
export function prefault(address: number, sizeBytes: number): void {
  if (sizeBytes <= 0) return;
  const start = Math.floor(address / SYSTEM_PAGE_SIZE) * SYSTEM_PAGE_SIZE;
  const length = address + sizeBytes - start;
  for (;;) {
    if (libc.madvise(asPointer(start), length, MADV_POPULATE_WRITE) === 0) return;
    const code = errno();
    if (code === ERRNO.EINTR) continue;
    if (code === ERRNO.EINVAL && !kernelHasPopulate(start)) break;
    throw new SystemError("madvise", code, `MADV_POPULATE_WRITE of ${length} bytes`);
  }
  touchPages(start, length);
}

/** Whether MADV_POPULATE_* exist here: probe with a one-page MADV_POPULATE_READ of a mapped page. */
function kernelHasPopulate(mappedPage: number): boolean {
  return libc.madvise(asPointer(mappedPage), SYSTEM_PAGE_SIZE, MADV_POPULATE_READ) === 0;
}

const TOUCH_WINDOW = 2 ** 30;

function touchPages(start: number, length: number): void {
  for (let done = 0; done < length; done += TOUCH_WINDOW) {
    const bytes = new Uint8Array(toArrayBuffer(start + done, 0, Math.min(TOUCH_WINDOW, length - done)));
    // An atomic add of 0 is a write fault that cannot clobber a concurrent writer's byte.
    for (let i = 0; i < bytes.length; i += SYSTEM_PAGE_SIZE) Atomics.add(bytes, i, 0);
  }
}

/** Bytes of the range whose pages are in memory (mincore), counted in whole pages. */
export function residentBytes(address: number, sizeBytes: number): number {
  if (sizeBytes <= 0) return 0;
  const start = Math.floor(address / SYSTEM_PAGE_SIZE) * SYSTEM_PAGE_SIZE;
  const length = address + sizeBytes - start;
  const pages = Math.ceil(length / SYSTEM_PAGE_SIZE);
  const vector = new Uint8Array(pages);
  check("mincore", libc.mincore(asPointer(start), length, vector));
  let resident = 0;
  for (let i = 0; i < pages; i++) resident += (vector[i] ?? 0) & 1;
  return resident * SYSTEM_PAGE_SIZE;
}
