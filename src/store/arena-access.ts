/**
 * How the store process itself reads and writes arena bytes (metadata, inline createAndSeal data, hashes,
 * admin downloads) without any client being able to kill it.
 *
 * - `mapped`: a sealed memfd with base pages. Nobody can shrink it (F_SEAL_SHRINK) and a punched hole
 *   reads back as zeros, so touching the store's own mapping is safe: zero-copy views, the fast path.
 * - `file`: an unsealed file in `-d DIR` (tmpfs). Any read-write client can ftruncate it; a touch of the
 *   lost pages through a mapping would SIGBUS. The store uses pread/pwrite on the file instead: a read
 *   past the end comes back short (the rest is returned as zeros), a write re-grows the file.
 * - `process-memory`: huge pages (a hugetlbfs file, or a MFD_HUGETLB memfd). hugetlbfs has no write(2),
 *   and a punched huge page is faulted back from the pool, which may be empty (SIGBUS). The store reads
 *   and writes its own mapping through /proc/self/mem, where a page that cannot be had is EIO, not SIGBUS.
 */
import { closeFd, MAX_VIEW_BYTES, openProcessMemory, preadFully, pwriteFully, viewOf } from "../ffi/index.ts";
import { PlasmaError } from "../protocol/errors.ts";

export type ArenaAccessMode = "mapped" | "file" | "process-memory";

export interface ArenaAccessTarget {
  fd: number;
  /** Base address of the store's read-write mapping. */
  address: number;
  sizeBytes: number;
  /** F_SEAL_SHRINK | F_SEAL_GROW are set (a memfd). */
  sealed: boolean;
  hugePages: boolean;
}

/**
 * Where a reader on another thread of the store (the hash worker) preads arena bytes: the descriptor, and
 * the position of arena offset 0 in it. Valid until the ArenaAccess is closed.
 */
export interface ArenaReadTarget {
  readonly mode: "file" | "process-memory";
  readonly fd: number;
  readonly basePosition: number;
}

/** Which way the store must touch this arena (see the file comment). */
export function arenaAccessMode(arena: ArenaAccessTarget): ArenaAccessMode {
  if (arena.hugePages) return "process-memory";
  return arena.sealed ? "mapped" : "file";
}

/** The store's reads and writes of arena bytes, safe against clients that resize or punch the file. */
export class ArenaAccess {
  readonly mode: ArenaAccessMode;
  readonly #arena: ArenaAccessTarget;
  /** Views of the mapping, one per 4 GiB window, made on first use (mapped mode only). */
  readonly #windows: Uint8Array[] = [];
  /** The descriptor pread/pwrite go to, and the position of arena offset 0 in it. */
  readonly #ioFd: number;
  readonly #ioBase: number;
  #closed = false;
  /** Reads that found the file shorter than the arena (a client truncated it); the rest came back zero. */
  shortReads = 0;

  constructor(arena: ArenaAccessTarget) {
    this.#arena = arena;
    this.mode = arenaAccessMode(arena);
    if (this.mode === "process-memory") {
      this.#ioFd = openProcessMemory();
      this.#ioBase = arena.address;
    } else {
      this.#ioFd = arena.fd;
      this.#ioBase = 0;
    }
  }

  /** A copy of `lengthBytes` at `offset`. Never throws for a truncated `-d` file: lost bytes read as 0. */
  read(offset: number, lengthBytes: number): Uint8Array {
    this.#check(offset, lengthBytes);
    if (lengthBytes === 0) return new Uint8Array(0);
    if (this.mode === "mapped") return this.#view(offset, lengthBytes).slice();
    const out = new Uint8Array(lengthBytes);
    let got: number;
    try {
      got = preadFully(this.#ioFd, out, this.#ioBase + offset);
    } catch (error) {
      if (this.mode !== "process-memory") throw this.#failure("read", error);
      got = 0; // EIO: a huge page that cannot be had; the bytes are lost, report them as zeros
    }
    if (got < lengthBytes) this.shortReads++;
    return out;
  }

  /**
   * The bytes at `offset` for a caller that only reads them before returning (hashing): a zero-copy view
   * in mapped mode, a copy otherwise.
   */
  peek(offset: number, lengthBytes: number): Uint8Array {
    if (this.mode === "mapped") {
      this.#check(offset, lengthBytes);
      return lengthBytes === 0 ? new Uint8Array(0) : this.#view(offset, lengthBytes);
    }
    return this.read(offset, lengthBytes);
  }

  /** Where another thread must pread this arena, or null when it may read the mapping (`mapped`). */
  get readTarget(): ArenaReadTarget | null {
    if (this.mode === "mapped") return null;
    return { mode: this.mode, fd: this.#ioFd, basePosition: this.#ioBase };
  }

  /** Writes `bytes` at `offset`; throws PlasmaError when the kernel refuses (e.g. EIO, ENOSPC). */
  write(offset: number, bytes: Uint8Array): void {
    this.#check(offset, bytes.length);
    if (bytes.length === 0) return;
    if (this.mode === "mapped") {
      this.#view(offset, bytes.length).set(bytes);
      return;
    }
    try {
      pwriteFully(this.#ioFd, bytes, this.#ioBase + offset);
    } catch (error) {
      throw this.#failure("write", error);
    }
  }

  /** Closes /proc/self/mem if it was opened; further access throws. The arena fd is not ours to close. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.mode === "process-memory") closeFd(this.#ioFd);
  }

  #check(offset: number, lengthBytes: number): void {
    if (this.#closed) throw new PlasmaError("The store is stopping; its memory is no longer mapped.");
    if (offset < 0 || lengthBytes < 0 || offset + lengthBytes > this.#arena.sizeBytes) {
      throw new RangeError(`[${offset}, ${offset + lengthBytes}) is outside the arena`);
    }
  }

  #failure(what: "read" | "write", error: unknown): PlasmaError {
    return new PlasmaError(
      `The store could not ${what} the arena (${(error as Error).message}); a client may have truncated or punched the arena file.`,
      "PLASMA_ERROR",
      { cause: error },
    );
  }

  /** A zero-copy view; one long-lived view per 4 GiB window, sliced per call (a fresh one costs µs). */
  #view(offset: number, lengthBytes: number): Uint8Array {
    const window = Math.floor(offset / MAX_VIEW_BYTES);
    const start = window * MAX_VIEW_BYTES;
    if (offset + lengthBytes <= start + MAX_VIEW_BYTES) {
      let view = this.#windows[window];
      if (view === undefined) {
        const size = Math.min(MAX_VIEW_BYTES, this.#arena.sizeBytes - start);
        view = new Uint8Array(viewOf(this.#arena.address, start, size));
        this.#windows[window] = view;
      }
      return view.subarray(offset - start, offset - start + lengthBytes);
    }
    return new Uint8Array(viewOf(this.#arena.address, offset, lengthBytes));
  }
}
