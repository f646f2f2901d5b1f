import { InvalidValueError, ValueFormatError } from "./errors.ts";
import type { ByteSink } from "./sink.ts";
import {
  bytesOf,
  type DType,
  type ElementKind,
  kindByDType,
  kindOfTypedArray,
  type NumericTypedArray,
  viewAs,
} from "./typed-arrays.ts";

/** "C": row-major (last index varies fastest), "F": column-major (first index varies fastest). */
export type TensorOrder = "C" | "F";

export interface TensorOptions {
  /** Byte strides, one per dimension (as numpy and Arrow give them). Default: contiguous in `order`. */
  strides?: readonly number[];
  /** Layout used to compute default strides; default "C". Ignored when `strides` is given. */
  order?: TensorOrder;
}

/**
 * An n-dimensional array: a typed array plus a shape and byte strides (the analogue of `pyarrow.Tensor`).
 * Element (i, j, …) lives at byte `i·strides[0] + j·strides[1] + …` of `data`. A tensor returned by
 * `client.get` is a zero-copy, read-only view on shared memory: never write into its `data`.
 */
export class Tensor<T extends NumericTypedArray = NumericTypedArray> {
  readonly data: T;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly #kind: ElementKind;

  /** Throws InvalidValueError when the shape and strides do not fit `data`. Default shape: 1-D. */
  constructor(data: T, shape: readonly number[] = [data.length], options: TensorOptions = {}) {
    const kind = kindOfTypedArray(data);
    if (kind === null)
      throw new InvalidValueError("A Tensor's data must be a typed array (Float64Array, …).");
    for (const n of shape) {
      if (!Number.isSafeInteger(n) || n < 0)
        throw new InvalidValueError(`Tensor shape entries must be non-negative integers, got [${shape}].`);
    }
    const strides = options.strides ?? contiguousStrides(shape, kind.bytesPerElement, options.order ?? "C");
    if (strides.length !== shape.length) {
      throw new InvalidValueError(
        `A tensor of shape [${shape}] needs ${shape.length} strides, got [${strides}].`,
      );
    }
    for (const s of strides) {
      if (!Number.isSafeInteger(s) || s < 0 || s % kind.bytesPerElement !== 0) {
        throw new InvalidValueError(
          `Tensor strides are non-negative byte counts, multiples of the element size ${kind.bytesPerElement}; got [${strides}].`,
        );
      }
    }
    const span = spanBytes(shape, strides, kind.bytesPerElement);
    if (span > data.byteLength) {
      throw new InvalidValueError(
        `A ${kind.dtype} tensor of shape [${shape}] and strides [${strides}] reaches byte ${span}, but its data has ${data.byteLength} bytes (${data.length} elements).`,
      );
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze([...strides]);
    this.#kind = kind;
  }

  /** Element type: "float64", "int32", "int64", … */
  get dtype(): DType {
    return this.#kind.dtype;
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** Number of elements (the product of the shape). */
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** True when the layout is row-major contiguous from the first element of `data`. */
  get isContiguous(): boolean {
    return sameStrides(this.strides, contiguousStrides(this.shape, this.#kind.bytesPerElement, "C"));
  }

  /** The element at the index (one integer per dimension). */
  at(...index: number[]): number | bigint {
    if (index.length !== this.shape.length)
      throw new RangeError(`Tensor.at needs ${this.shape.length} indices, got ${index.length}.`);
    let byte = 0;
    for (let d = 0; d < index.length; d++) {
      const i = index[d] as number;
      if (!Number.isInteger(i) || i < 0 || i >= (this.shape[d] as number))
        throw new RangeError(`Index ${i} is out of bounds for dimension ${d} of size ${this.shape[d]}.`);
      byte += i * (this.strides[d] as number);
    }
    return this.data[byte / this.#kind.bytesPerElement] as number | bigint;
  }

  /** Nested JS arrays of the elements, in index order (for printing and tests). */
  toArray(): unknown[] {
    const bpe = this.#kind.bytesPerElement;
    const build = (dim: number, byte: number): unknown[] => {
      const n = this.shape[dim] as number;
      const stride = this.strides[dim] as number;
      const out: unknown[] = new Array(n);
      for (let i = 0; i < n; i++) {
        out[i] =
          dim === this.shape.length - 1
            ? this.data[(byte + i * stride) / bpe]
            : build(dim + 1, byte + i * stride);
      }
      return out;
    };
    return this.shape.length === 0 ? [this.data[0]] : build(0, 0);
  }
}

/** Byte strides of a contiguous layout. */
export function contiguousStrides(
  shape: readonly number[],
  bytesPerElement: number,
  order: TensorOrder = "C",
): number[] {
  const strides = new Array<number>(shape.length);
  let step = bytesPerElement;
  if (order === "C") {
    for (let d = shape.length - 1; d >= 0; d--) {
      strides[d] = step;
      step *= Math.max(shape[d] as number, 1);
    }
  } else {
    for (let d = 0; d < shape.length; d++) {
      strides[d] = step;
      step *= Math.max(shape[d] as number, 1);
    }
  }
  return strides;
}

function spanBytes(shape: readonly number[], strides: readonly number[], bytesPerElement: number): number {
  if (shape.some((n) => n === 0)) return 0;
  let last = 0;
  for (let d = 0; d < shape.length; d++) last += ((shape[d] as number) - 1) * (strides[d] as number);
  return last + bytesPerElement;
}

function sameStrides(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

// ---------------------------------------------------------------------------------------------- encoding

/** Tensor data starts at a multiple of this many bytes from the start of the encoded tensor. */
export const TENSOR_ALIGNMENT_BYTES = 64;
const MAGIC = 0x31545042; // "BPT1" little-endian
const PREFIX_BYTES = 8; // magic u32 + header length u32
const MAX_HEADER_BYTES = 64 * 1024;

interface TensorHeader {
  dtype: DType;
  shape: number[];
  strides: number[];
  byteLength: number;
}

function headerOf(tensor: Tensor): Uint8Array {
  const header: TensorHeader = {
    dtype: tensor.dtype,
    shape: [...tensor.shape],
    strides: [...tensor.strides],
    byteLength: tensor.data.byteLength,
  };
  return new TextEncoder().encode(JSON.stringify(header));
}

function bodyOffset(headerBytes: number): number {
  return Math.ceil((PREFIX_BYTES + headerBytes) / TENSOR_ALIGNMENT_BYTES) * TENSOR_ALIGNMENT_BYTES;
}

function checkTensor(tensor: unknown): Tensor {
  if (!(tensor instanceof Tensor))
    throw new InvalidValueError("Expected a Tensor (new Tensor(data, shape)).");
  return tensor;
}

/**
 * Bytes `writeTensor` needs for this tensor (the analogue of `pyarrow.ipc.get_tensor_size`): a small
 * self-describing header padded to 64 bytes, then the data, so the data stays aligned.
 */
export function getTensorSize(tensor: Tensor): number {
  const t = checkTensor(tensor);
  return bodyOffset(headerOf(t).byteLength) + t.data.byteLength;
}

/**
 * Writes the tensor into the sink (the analogue of `pyarrow.ipc.write_tensor`): the header, padding, then
 * the data, copied once. Returns the bytes written (= getTensorSize).
 */
export function writeTensor(tensor: Tensor, sink: ByteSink): number {
  const t = checkTensor(tensor);
  const header = headerOf(t);
  const start = sink.position;
  const prefix = new Uint8Array(bodyOffset(header.byteLength));
  const dv = new DataView(prefix.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, header.byteLength, true);
  prefix.set(header, PREFIX_BYTES);
  sink.write(prefix);
  sink.write(bytesOf(t.data));
  return sink.position - start;
}

/**
 * Reads a tensor written by writeTensor (the analogue of `pyarrow.ipc.read_tensor`). Its data is a
 * zero-copy view on `buffer` when aligned (always so for objects in the store). Throws ValueFormatError
 * for anything else.
 */
export function readTensor(buffer: Uint8Array): Tensor {
  if (buffer.byteLength < PREFIX_BYTES) {
    throw new ValueFormatError(
      `Not a tensor: ${buffer.byteLength} bytes is shorter than the ${PREFIX_BYTES}-byte tensor prefix.`,
    );
  }
  const dv = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  if (dv.getUint32(0, true) !== MAGIC)
    throw new ValueFormatError("Not a tensor written by bun-plasma: the magic bytes do not match.");
  const headerBytes = dv.getUint32(4, true);
  if (headerBytes > MAX_HEADER_BYTES || PREFIX_BYTES + headerBytes > buffer.byteLength)
    throw new ValueFormatError(`Corrupt tensor: header of ${headerBytes} bytes does not fit the buffer.`);
  let header: TensorHeader;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(buffer.subarray(8, 8 + headerBytes)),
    );
  } catch (error) {
    throw new ValueFormatError(`Corrupt tensor header: ${(error as Error).message}`, { cause: error });
  }
  const kind = typeof header?.dtype === "string" ? kindByDType(header.dtype) : undefined;
  if (kind === undefined)
    throw new ValueFormatError(`Corrupt tensor header: unknown dtype ${JSON.stringify(header?.dtype)}.`);
  const { byteLength } = header;
  const start = bodyOffset(headerBytes);
  if (!Number.isSafeInteger(byteLength) || byteLength < 0 || byteLength % kind.bytesPerElement !== 0)
    throw new ValueFormatError(`Corrupt tensor header: bad byteLength ${JSON.stringify(byteLength)}.`);
  if (start + byteLength > buffer.byteLength) {
    throw new ValueFormatError(
      `Corrupt tensor: header says ${byteLength} data bytes at offset ${start}, but the buffer has ${buffer.byteLength} bytes.`,
    );
  }
  if (!Array.isArray(header.shape) || !Array.isArray(header.strides))
    throw new ValueFormatError("Corrupt tensor header: shape and strides must be arrays.");
  const data = viewAs(kind, buffer.subarray(start, start + byteLength));
  try {
    return new Tensor(data, header.shape, { strides: header.strides });
  } catch (error) {
    throw new ValueFormatError(`Corrupt tensor header: ${(error as Error).message}`, { cause: error });
  }
}
