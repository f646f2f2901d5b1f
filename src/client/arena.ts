import { closeFd, isReadOnlyFd, MAX_VIEW_BYTES, mapShared, unmap, viewOf } from "../ffi/index.ts";
import { AccessDeniedError } from "../protocol/errors.ts";

/**
 * The client's mappings of the store's arena: a read-write one for objects this client creates, and a
 * read-only one for sealed objects it gets, so a reader cannot corrupt what others read (a write through
 * a read-only view kills the writing process with SIGSEGV instead). Views are zero-copy.
 *
 * Unmapping while a view is reachable would make reading it crash the process, so the mappings live
 * until the client is closed AND every view handed out has been garbage-collected.
 *
 * A read-only client (its uid is on the store's --read-only-uid list) receives an O_RDONLY descriptor:
 * it has only the read-only mapping, and asking for a writable view is an AccessDeniedError.
 */
export class ClientArena {
  readonly sizeBytes: number;
  readonly #fd: number;
  /** The read-write mapping; 0 for a read-only client. */
  readonly #writable: number;
  readonly #readOnly: number;
  /** The descriptor is O_RDONLY: nothing here can write, resize or punch the arena. */
  readonly readOnly: boolean;
  #liveViews = 0;
  #closed = false;
  #unmapped = false;
  /**
   * The last view made of each range (key: offset * 2 + 1 for read-only), while it is reachable. A view
   * is only an address range, so a later get of the same range may hand out the same ArrayBuffer: making
   * a new external ArrayBuffer of a megabyte or more costs tens of µs (it reports the size to the GC and
   * usually triggers a collection), which would make large gets cost more than small ones.
   */
  readonly #views = new Map<number, WeakRef<ArrayBuffer>>();
  readonly #registry = new FinalizationRegistry<number>((key) => {
    this.#liveViews--;
    if (this.#views.get(key)?.deref() === undefined) this.#views.delete(key);
    this.#maybeUnmap();
  });

  constructor(fd: number, sizeBytes: number, options: { populate?: boolean } = {}) {
    this.#fd = fd;
    this.sizeBytes = sizeBytes;
    this.readOnly = isReadOnlyFd(fd);
    this.#writable = this.readOnly ? 0 : mapShared(fd, sizeBytes, { populate: options.populate });
    try {
      this.#readOnly = mapShared(fd, sizeBytes, {
        readOnly: true,
        populate: this.readOnly && options.populate,
      });
    } catch (error) {
      if (this.#writable !== 0) unmap(this.#writable, sizeBytes);
      throw error;
    }
  }

  /** A writable view for the creator of an unsealed object. */
  writableView(offset: number, lengthBytes: number): ArrayBuffer {
    if (this.readOnly) {
      throw new AccessDeniedError(
        "This client is read-only on this store (--read-only-uid): it cannot write objects.",
      );
    }
    return this.#view(this.#writable, offset * 2, offset, lengthBytes);
  }

  /**
   * Ends the creator's writable view at seal: the ArrayBuffer is detached (`transfer(0)`), so every
   * typed array over it has length 0 and a later write through it is a no-op that no reader can see.
   * The view cache forgets it, so a later create at the same offset gets a fresh view.
   */
  detachWritable(buffer: ArrayBuffer): void {
    if (!buffer.detached) buffer.transfer(0);
  }

  /** A read-only view of a sealed object. */
  readOnlyView(offset: number, lengthBytes: number): ArrayBuffer {
    return this.#view(this.#readOnly, offset * 2 + 1, offset, lengthBytes);
  }

  get liveViews(): number {
    return this.#liveViews;
  }

  /** Closes the descriptor; the mappings go once no view is reachable any more. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeFd(this.#fd);
    this.#maybeUnmap();
  }

  #checkedLength(offset: number, lengthBytes: number): number {
    if (lengthBytes > MAX_VIEW_BYTES) {
      throw new RangeError(
        `Object of ${lengthBytes} bytes is larger than the largest view Bun can map (${MAX_VIEW_BYTES} bytes, 4 GiB); split it into several objects.`,
      );
    }
    if (offset < 0 || offset + lengthBytes > this.sizeBytes) {
      throw new RangeError(
        `View [${offset}, ${offset + lengthBytes}) is outside the arena of ${this.sizeBytes} bytes.`,
      );
    }
    if (this.#unmapped) throw new RangeError("The arena is no longer mapped: the client was disconnected.");
    return lengthBytes;
  }

  #view(base: number, key: number, offset: number, lengthBytes: number): ArrayBuffer {
    const cached = this.#views.get(key)?.deref();
    if (cached !== undefined && cached.byteLength === lengthBytes && !this.#unmapped) return cached;
    const buffer = viewOf(base, offset, this.#checkedLength(offset, lengthBytes));
    if (buffer.byteLength > 0) {
      this.#liveViews++;
      this.#registry.register(buffer, key);
      this.#views.set(key, new WeakRef(buffer));
    }
    return buffer;
  }

  #maybeUnmap(): void {
    if (!this.#closed || this.#unmapped || this.#liveViews > 0) return;
    this.#unmapped = true;
    if (this.#writable !== 0) unmap(this.#writable, this.sizeBytes);
    unmap(this.#readOnly, this.sizeBytes);
  }
}
