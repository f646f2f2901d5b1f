import { InvalidValueError } from "./errors.ts";

/** Where the values writers (Arrow IPC streams, tensors) put their bytes, piece by piece. */
export interface ByteSink {
  /** Appends the bytes; the sink must not keep a reference to `bytes` after returning. */
  write(bytes: Uint8Array): void;
  /** Bytes written so far. */
  readonly position: number;
}

/**
 * A sink that only counts: the analogue of pyarrow's `MockOutputStream`. Write an object into it to learn
 * how many bytes it needs (`size()`), then `create` a plasma buffer of exactly that size.
 */
export class MockOutputStream implements ByteSink {
  #position = 0;

  write(bytes: Uint8Array): void {
    this.#position += bytes.byteLength;
  }

  get position(): number {
    return this.#position;
  }

  /** Bytes written so far. */
  size(): number {
    return this.#position;
  }
}

/**
 * A sink that copies into a fixed buffer (for example the one `client.create` returned): the analogue of
 * pyarrow's `FixedSizeBufferWriter`. Each piece is copied once, straight into the buffer; writing past
 * its end throws InvalidValueError (size the buffer with MockOutputStream first).
 */
export class FixedSizeBufferWriter implements ByteSink {
  readonly buffer: Uint8Array;
  #position = 0;

  constructor(buffer: Uint8Array) {
    this.buffer = buffer;
  }

  write(bytes: Uint8Array): void {
    const end = this.#position + bytes.byteLength;
    if (end > this.buffer.byteLength) {
      throw new InvalidValueError(
        `FixedSizeBufferWriter: writing ${bytes.byteLength} bytes at offset ${this.#position} overflows the buffer of ${this.buffer.byteLength} bytes; size it with MockOutputStream (or getArrowStreamSize / getTensorSize) first.`,
      );
    }
    this.buffer.set(bytes, this.#position);
    this.#position = end;
  }

  get position(): number {
    return this.#position;
  }

  /** Bytes of the buffer not written yet. */
  get remaining(): number {
    return this.buffer.byteLength - this.#position;
  }
}
