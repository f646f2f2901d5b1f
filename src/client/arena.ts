import { closeFd, MAX_VIEW_BYTES, mapShared, unmap, viewOf } from "../ffi/index.ts";

/**
 * The client's mappings of the store's arena: a read-write one for objects this client creates, and a
 * read-only one for sealed objects it gets, so a reader cannot corrupt what others read (a write through
 * a read-only view kills the writing process with SIGSEGV instead). Views are zero-copy.
 *
 * Unmapping while a view is reachable would make reading it crash the process, so the mappings live
 * until the client is closed AND every view handed out has been garbage-collected.
 */
export class ClientArena {
  readonly sizeBytes: number;
  readonly #fd: number;
  readonly #writable: number;
  readonly #readOnly: number;
  #liveViews = 0;
  #closed = false;
  #unmapped = false;
  readonly #registry = new FinalizationRegistry<null>(() => {
    this.#liveViews--;
    this.#maybeUnmap();
  });

  constructor(fd: number, sizeBytes: number, options: { populate?: boolean } = {}) {
    this.#fd = fd;
    this.sizeBytes = sizeBytes;
    this.#writable = mapShared(fd, sizeBytes, { populate: options.populate });
    try {
      this.#readOnly = mapShared(fd, sizeBytes, { readOnly: true });
    } catch (error) {
      unmap(this.#writable, sizeBytes);
      throw error;
    }
  }

  /** A writable view for the creator of an unsealed object. */
  writableView(offset: number, lengthBytes: number): ArrayBuffer {
    return this.#track(viewOf(this.#writable, offset, this.#checkedLength(offset, lengthBytes)));
  }

  /** A read-only view of a sealed object. */
  readOnlyView(offset: number, lengthBytes: number): ArrayBuffer {
    return this.#track(viewOf(this.#readOnly, offset, this.#checkedLength(offset, lengthBytes)));
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

  #track(buffer: ArrayBuffer): ArrayBuffer {
    if (buffer.byteLength > 0) {
      this.#liveViews++;
      this.#registry.register(buffer, null);
    }
    return buffer;
  }

  #maybeUnmap(): void {
    if (!this.#closed || this.#unmapped || this.#liveViews > 0) return;
    this.#unmapped = true;
    unmap(this.#writable, this.sizeBytes);
    unmap(this.#readOnly, this.sizeBytes);
  }
}
