/** The typed arrays the values API stores raw, and their element types. */

export type NumericTypedArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float16Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

/** Element type names, as numpy and Arrow spell them. */
export type DType =
  | "int8"
  | "uint8"
  | "uint8clamped"
  | "int16"
  | "uint16"
  | "int32"
  | "uint32"
  | "float16"
  | "float32"
  | "float64"
  | "int64"
  | "uint64";

export type TypedArrayName =
  | "Int8Array"
  | "Uint8Array"
  | "Uint8ClampedArray"
  | "Int16Array"
  | "Uint16Array"
  | "Int32Array"
  | "Uint32Array"
  | "Float16Array"
  | "Float32Array"
  | "Float64Array"
  | "BigInt64Array"
  | "BigUint64Array";

interface TypedArrayConstructorOf {
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): NumericTypedArray;
  new (length: number): NumericTypedArray;
  readonly BYTES_PER_ELEMENT: number;
}

export interface ElementKind {
  readonly name: TypedArrayName;
  readonly dtype: DType;
  readonly bytesPerElement: number;
  readonly ctor: TypedArrayConstructorOf;
}

const KINDS: ElementKind[] = [];
function add(name: TypedArrayName, dtype: DType, ctor: TypedArrayConstructorOf | undefined): void {
  if (ctor !== undefined) KINDS.push({ name, dtype, bytesPerElement: ctor.BYTES_PER_ELEMENT, ctor });
}
// Uint8ClampedArray before Uint8Array is irrelevant (neither is a subclass of the other); Buffer is a
// Uint8Array subclass and is stored as a Uint8Array.
add("Int8Array", "int8", Int8Array);
add("Uint8Array", "uint8", Uint8Array);
add("Uint8ClampedArray", "uint8clamped", Uint8ClampedArray);
add("Int16Array", "int16", Int16Array);
add("Uint16Array", "uint16", Uint16Array);
add("Int32Array", "int32", Int32Array);
add("Uint32Array", "uint32", Uint32Array);
add(
  "Float16Array",
  "float16",
  (globalThis as { Float16Array?: TypedArrayConstructorOf }).Float16Array ?? undefined,
);
add("Float32Array", "float32", Float32Array);
add("Float64Array", "float64", Float64Array);
add("BigInt64Array", "int64", BigInt64Array);
add("BigUint64Array", "uint64", BigUint64Array);

const BY_NAME = new Map<string, ElementKind>(KINDS.map((k) => [k.name, k]));
const BY_DTYPE = new Map<string, ElementKind>(KINDS.map((k) => [k.dtype, k]));

/** The kind of a typed array (Buffer counts as Uint8Array); null for anything else, DataView included. */
export function kindOfTypedArray(value: unknown): ElementKind | null {
  if (!ArrayBuffer.isView(value) || value instanceof DataView) return null;
  for (const kind of KINDS) if (value instanceof kind.ctor) return kind;
  return null;
}

export function kindByName(name: string): ElementKind | undefined {
  return BY_NAME.get(name);
}

export function kindByDType(dtype: string): ElementKind | undefined {
  return BY_DTYPE.get(dtype);
}

/** The bytes of a typed array, without copying. */
export function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/**
 * A typed array of `kind` over `bytes`: a zero-copy view when `bytes` is aligned for the element type
 * (always the case for objects in the store), else a copy. `bytes.byteLength` must be a multiple of the
 * element size (the caller checks).
 */
export function viewAs(kind: ElementKind, bytes: Uint8Array): NumericTypedArray {
  const length = bytes.byteLength / kind.bytesPerElement;
  if (bytes.byteOffset % kind.bytesPerElement === 0)
    return new kind.ctor(bytes.buffer, bytes.byteOffset, length);
  const copy = new kind.ctor(length);
  bytesOf(copy).set(bytes);
  return copy;
}
