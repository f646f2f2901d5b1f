import { deserialize, serialize } from "bun:jsc";
import { PlasmaError } from "../protocol/errors.ts";

/**
 * Formats of values stored with put(). The format is recorded in the object's metadata as
 * `bun-plasma/1 FORMAT`, so get() returns the same kind of value and later releases can add formats.
 */
export const VALUE_METADATA_PREFIX = "bun-plasma/1 ";

/** Returned by get() for an object that did not appear within the timeout. */
export const ObjectNotAvailable: unique symbol = Symbol.for("bun-plasma.ObjectNotAvailable");
export type ObjectNotAvailable = typeof ObjectNotAvailable;

/** A stored value whose format this client cannot read, or whose bytes are corrupt. */
export class ValueFormatError extends PlasmaError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, "PLASMA_ERROR", options);
  }
}

export type ValueFormat = "structured-clone";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const STRUCTURED_CLONE_METADATA = encoder.encode(`${VALUE_METADATA_PREFIX}structured-clone`);

export interface EncodedValue {
  data: Uint8Array;
  metadata: Uint8Array;
}

/** Serializes a value for put(). Throws ValueFormatError for values structured clone cannot copy. */
export function encodeValue(value: unknown): EncodedValue {
  let data: SharedArrayBuffer | ArrayBuffer;
  try {
    data = serialize(value);
  } catch (error) {
    throw new ValueFormatError(`put() cannot store this value: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return { data: new Uint8Array(data), metadata: STRUCTURED_CLONE_METADATA };
}

/** The format named by an object's metadata, or null for objects not written by put(). */
export function valueFormatOf(metadata: Uint8Array): string | null {
  if (metadata.length < VALUE_METADATA_PREFIX.length) return null;
  const text = decoder.decode(metadata.subarray(0, Math.min(metadata.length, 256)));
  if (!text.startsWith(VALUE_METADATA_PREFIX)) return null;
  return text.slice(VALUE_METADATA_PREFIX.length).split(/[\s;]/, 1)[0] ?? null;
}

/**
 * Rebuilds a value from an object's data and metadata. Objects not written by put() come back as a copy
 * of their data bytes (a Uint8Array).
 */
export function decodeValue(data: Uint8Array, metadata: Uint8Array): unknown {
  const format = valueFormatOf(metadata);
  if (format === null) return data.slice();
  if (format !== "structured-clone") {
    throw new ValueFormatError(
      `Object has value format "${format}", which this version of bun-plasma cannot read; upgrade it.`,
    );
  }
  try {
    // deserialize wants an ArrayBuffer of exactly the value; copy out of shared memory (the clone copies anyway).
    return deserialize(data.slice().buffer);
  } catch (error) {
    throw new ValueFormatError(`The stored value is corrupt: ${(error as Error).message}`, { cause: error });
  }
}
