import { deserialize, serialize } from "bun:jsc";
import type { Table } from "apache-arrow";
import { getArrowStreamSize, isArrowValue, readArrowStream, writeArrowStream } from "./values/arrow.ts";
import { InvalidValueError, messageOf, ValueFormatError } from "./values/errors.ts";
import { FixedSizeBufferWriter } from "./values/sink.ts";
import { getTensorSize, readTensor, Tensor, writeTensor } from "./values/tensor.ts";
import {
  bytesOf,
  kindByName,
  kindOfTypedArray,
  type NumericTypedArray,
  viewAs,
} from "./values/typed-arrays.ts";

export { InvalidValueError, ValueFormatError } from "./values/errors.ts";

/**
 * Values stored with put() record their format in the object's metadata as one text line,
 * `bun-plasma/1 FORMAT[ ARGUMENT]\n`, followed by the caller's own metadata bytes (if any). get() reads
 * the line to return the same kind of value. Objects whose metadata does not start with the prefix were
 * not written by put(); get() returns a copy of their data bytes.
 */
export const VALUE_METADATA_PREFIX = "bun-plasma/1 ";

/** Returned by get() for an object that did not appear within the timeout. */
export const ObjectNotAvailable: unique symbol = Symbol.for("bun-plasma.ObjectNotAvailable");
export type ObjectNotAvailable = typeof ObjectNotAvailable;

/**
 * How put() stored a value:
 * - `structured-clone`: any other structured-cloneable value (a copy each way);
 * - `typed-array`: the elements raw (argument: the constructor name); get() returns a zero-copy view;
 * - `array-buffer`: the bytes raw; get() returns a zero-copy ArrayBuffer;
 * - `tensor`: writeTensor's encoding (header, then the elements 64-byte aligned); get() returns a Tensor;
 * - `arrow-stream`: an Arrow IPC stream; get() returns a Table whose columns point into shared memory.
 */
export type ValueFormat = "structured-clone" | "typed-array" | "array-buffer" | "tensor" | "arrow-stream";

const FORMATS: readonly ValueFormat[] = [
  "structured-clone",
  "typed-array",
  "array-buffer",
  "tensor",
  "arrow-stream",
];

/** True for the formats get() returns as views on shared memory (holding a reference while reachable). */
export function isZeroCopyFormat(format: ValueFormat): boolean {
  return format !== "structured-clone";
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const NEWLINE = 10;
const EMPTY = new Uint8Array(0);

/** A value ready to be written into an object. */
export interface EncodedValue {
  format: ValueFormat;
  /** The format line followed by the caller's metadata. */
  metadata: Uint8Array;
  /** Bytes of data the object needs. */
  dataSize: number;
  /** The data when it already exists as one run of bytes (the client may send it inline). */
  bytes: Uint8Array | null;
  /** Writes the data into the object's buffer (exactly dataSize bytes): the one copy into shared memory. */
  writeInto(target: Uint8Array): void;
}

/** Metadata for an object of this format: the format line, then the caller's bytes. */
export function valueMetadata(
  format: ValueFormat,
  argument?: string,
  userMetadata: Uint8Array = EMPTY,
): Uint8Array {
  const line = encoder.encode(
    `${VALUE_METADATA_PREFIX}${format}${argument === undefined ? "" : ` ${argument}`}\n`,
  );
  if (userMetadata.byteLength === 0) return line;
  const out = new Uint8Array(line.byteLength + userMetadata.byteLength);
  out.set(line);
  out.set(userMetadata, line.byteLength);
  return out;
}

function fromBytes(format: ValueFormat, bytes: Uint8Array, metadata: Uint8Array): EncodedValue {
  return { format, metadata, dataSize: bytes.byteLength, bytes, writeInto: (target) => target.set(bytes) };
}

/**
 * Encodes a value for put(): typed arrays and ArrayBuffers raw, Tensors with writeTensor, Arrow Tables and
 * RecordBatches as an IPC stream, anything else by structured clone. Throws InvalidValueError for values
 * none of these can store (functions, symbols, class instances with private state, …).
 */
export function encodeValue(value: unknown, userMetadata: Uint8Array = EMPTY): EncodedValue {
  if (!(userMetadata instanceof Uint8Array))
    throw new InvalidValueError("put(): options.metadata must be a Uint8Array.");
  const kind = kindOfTypedArray(value);
  if (kind !== null) {
    return fromBytes(
      "typed-array",
      bytesOf(value as NumericTypedArray),
      valueMetadata("typed-array", kind.name, userMetadata),
    );
  }
  if (value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) {
    return fromBytes(
      "array-buffer",
      new Uint8Array(value),
      valueMetadata("array-buffer", undefined, userMetadata),
    );
  }
  if (value instanceof Tensor) {
    const dataSize = getTensorSize(value);
    return {
      format: "tensor",
      metadata: valueMetadata("tensor", undefined, userMetadata),
      dataSize,
      bytes: null,
      writeInto: (target) => writeTensor(value, new FixedSizeBufferWriter(target)),
    };
  }
  if (isArrowValue(value)) {
    const dataSize = getArrowStreamSize(value);
    return {
      format: "arrow-stream",
      metadata: valueMetadata("arrow-stream", undefined, userMetadata),
      dataSize,
      bytes: null,
      writeInto: (target) => {
        const written = writeArrowStream(value, new FixedSizeBufferWriter(target));
        if (written !== dataSize) {
          throw new InvalidValueError(
            `The Arrow value changed while it was written (${written} bytes, ${dataSize} expected).`,
          );
        }
      },
    };
  }
  if (looksLikeForeignArrow(value)) {
    throw new InvalidValueError(
      "put() got an Arrow Table/RecordBatch from another copy of apache-arrow; build it with the apache-arrow that bun-plasma depends on (dedupe the package).",
    );
  }
  let data: ArrayBuffer | SharedArrayBuffer;
  try {
    data = serialize(value);
  } catch (error) {
    throw new InvalidValueError(
      `put() cannot store this value: it is not a typed array, ArrayBuffer, Tensor, Arrow Table/RecordBatch, nor structured-cloneable (${messageOf(error)}).`,
      { cause: error },
    );
  }
  return fromBytes(
    "structured-clone",
    new Uint8Array(data),
    valueMetadata("structured-clone", undefined, userMetadata),
  );
}

function looksLikeForeignArrow(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const name = value.constructor?.name;
  return (name === "Table" || name === "RecordBatch") && "schema" in value && "numRows" in value;
}

/** The format line of an object written by put(), and the caller's metadata after it. */
export interface ValueHeader {
  format: ValueFormat;
  argument: string | null;
  /** A copy of the caller's own metadata (empty when none was given). */
  userMetadata: Uint8Array;
}

/**
 * Reads the format line of an object's metadata; null for objects not written by put(). Throws
 * ValueFormatError for a put() object of a format this version does not know.
 */
export function readValueHeader(metadata: Uint8Array): ValueHeader | null {
  if (metadata.byteLength < VALUE_METADATA_PREFIX.length) return null;
  for (let i = 0; i < VALUE_METADATA_PREFIX.length; i++) {
    if (metadata[i] !== VALUE_METADATA_PREFIX.charCodeAt(i)) return null;
  }
  const end = metadata.indexOf(NEWLINE);
  const lineEnd = end < 0 ? metadata.byteLength : end;
  const line = decoder.decode(metadata.subarray(VALUE_METADATA_PREFIX.length, lineEnd));
  const space = line.indexOf(" ");
  const name = space < 0 ? line : line.slice(0, space);
  if (!(FORMATS as readonly string[]).includes(name)) {
    throw new ValueFormatError(
      `Object has value format "${name.slice(0, 64)}", which this version of bun-plasma cannot read; upgrade it.`,
    );
  }
  return {
    format: name as ValueFormat,
    argument: space < 0 ? null : line.slice(space + 1),
    userMetadata: end < 0 ? new Uint8Array(0) : metadata.slice(end + 1),
  };
}

/** The format named by an object's metadata, or null for objects not written by put(). */
export function valueFormatOf(metadata: Uint8Array): string | null {
  if (metadata.byteLength < VALUE_METADATA_PREFIX.length) return null;
  try {
    return readValueHeader(metadata)?.format ?? null;
  } catch {
    const text = decoder.decode(metadata.subarray(0, Math.min(metadata.byteLength, 256)));
    return text.slice(VALUE_METADATA_PREFIX.length).split(/[\s;]/, 1)[0] ?? null;
  }
}

/**
 * Rebuilds a value from an object's data. For zero-copy formats the result is a view on `data`'s memory;
 * for structured clone (and objects not written by put) it is a copy. Throws ValueFormatError when the
 * bytes do not match the format.
 */
export function decodeValue(header: ValueHeader | null, data: Uint8Array): unknown {
  if (header === null) return data.slice();
  switch (header.format) {
    case "structured-clone":
      try {
        // deserialize wants an ArrayBuffer of exactly the value; copy out of shared memory (the clone copies anyway).
        return deserialize(data.slice().buffer);
      } catch (error) {
        throw new ValueFormatError(`The stored value is corrupt: ${messageOf(error)}`, { cause: error });
      }
    case "typed-array": {
      const kind = kindByName(header.argument ?? "");
      if (kind === undefined) {
        throw new ValueFormatError(
          `Object holds a typed array of unknown type ${JSON.stringify(header.argument)}; this Bun may lack it, or the metadata is corrupt.`,
        );
      }
      if (data.byteLength % kind.bytesPerElement !== 0) {
        throw new ValueFormatError(
          `Corrupt ${kind.name}: ${data.byteLength} bytes is not a whole number of ${kind.bytesPerElement}-byte elements.`,
        );
      }
      return viewAs(kind, data);
    }
    case "array-buffer":
      if (
        data.byteOffset === 0 &&
        data.byteLength === data.buffer.byteLength &&
        data.buffer instanceof ArrayBuffer
      )
        return data.buffer;
      return data.slice().buffer;
    case "tensor":
      return readTensor(data);
    case "arrow-stream":
      return readArrowStream(data) satisfies Table;
  }
}
