import { randomFillSync } from "node:crypto";

/** Bytes in an object id, as in Plasma (a SHA-1-sized unique id). */
export const OBJECT_ID_BYTES = 20;

const HEX_PATTERN = /^[0-9a-fA-F]{40}$/;
const INSPECT = Symbol.for("nodejs.util.inspect.custom");

/** A 20-byte object id. Immutable: the constructor copies its input. */
export class ObjectID {
  readonly #bytes: Uint8Array;
  #key: string | undefined;

  constructor(bytes: Uint8Array | ArrayLike<number> | string) {
    const copy =
      typeof bytes === "string"
        ? new TextEncoder().encode(bytes)
        : Uint8Array.from(bytes as ArrayLike<number>);
    if (copy.length !== OBJECT_ID_BYTES) {
      throw new TypeError(
        `An ObjectID is exactly ${OBJECT_ID_BYTES} bytes, got ${copy.length}; use ObjectID.fromRandom() or ObjectID.fromHex() to make one.`,
      );
    }
    this.#bytes = copy;
  }

  /** A fresh random id. */
  static fromRandom(): ObjectID {
    const bytes = new Uint8Array(OBJECT_ID_BYTES);
    randomFillSync(bytes);
    return new ObjectID(bytes);
  }

  /** Parses 40 hex digits; throws TypeError otherwise. */
  static fromHex(hex: string): ObjectID {
    if (!HEX_PATTERN.test(hex)) {
      throw new TypeError(
        `ObjectID.fromHex expects exactly 40 hex digits, got ${JSON.stringify(hex.slice(0, 64))}.`,
      );
    }
    return new ObjectID(Buffer.from(hex, "hex"));
  }

  /** A copy of the 20 bytes. */
  binary(): Uint8Array {
    return this.#bytes.slice();
  }

  /** The 20 bytes without copying; callers must not mutate them. */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  hex(): string {
    return Buffer.from(this.#bytes.buffer, this.#bytes.byteOffset, OBJECT_ID_BYTES).toString("hex");
  }

  /** A compact string key (latin1 of the bytes), for maps. */
  get key(): string {
    if (this.#key === undefined) this.#key = objectKey(this.#bytes);
    return this.#key;
  }

  equals(other: ObjectID): boolean {
    return other instanceof ObjectID && this.key === other.key;
  }

  toString(): string {
    return `ObjectID(${this.hex()})`;
  }

  [INSPECT](): string {
    return this.toString();
  }
}

/**
 * Buffer's native latin1 decoder (in Node and Bun, undocumented but long-standing), called on a plain
 * Uint8Array: about 100 ns for 20 bytes against about 340 ns for String.fromCharCode.apply.
 */
type Latin1Slice = (this: Uint8Array, start: number, end: number) => string;
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice?: Latin1Slice }).latin1Slice;

/** The latin1 string of 20 id bytes: the key the store and client use in maps. */
export function objectKey(bytes: Uint8Array): string {
  return objectKeyAt(bytes, 0);
}

/** objectKey of the 20 bytes at `offset` in `bytes` (no subarray made); the caller checks the bounds. */
export function objectKeyAt(bytes: Uint8Array, offset: number): string {
  if (latin1Slice !== undefined) return latin1Slice.call(bytes, offset, offset + OBJECT_ID_BYTES);
  return String.fromCharCode.apply(
    null,
    bytes.subarray(offset, offset + OBJECT_ID_BYTES) as unknown as number[],
  );
}

/** Back from a key to an ObjectID. */
export function objectIdFromKey(key: string): ObjectID {
  const bytes = new Uint8Array(OBJECT_ID_BYTES);
  for (let i = 0; i < OBJECT_ID_BYTES; i++) bytes[i] = key.charCodeAt(i);
  return new ObjectID(bytes);
}
