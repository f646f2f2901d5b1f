import { Table } from "apache-arrow";
import { Tensor } from "../../src/client/index.ts";

/** A JSON round trip that keeps BigInts (as "123n") and non-finite numbers (as strings). */
export function json(v: unknown): unknown {
  return JSON.parse(
    JSON.stringify(v, (_k, x) =>
      typeof x === "bigint" ? `${x}n` : typeof x === "number" && !Number.isFinite(x) ? String(x) : x,
    ),
  );
}

/** A JSON-able description of a value returned by get(), for comparing across processes. */
export function describe(value: unknown): unknown {
  if (value instanceof Table) {
    return {
      kind: "Table",
      numRows: value.numRows,
      schema: value.schema.fields.map((f) => `${f.name}: ${f.type}${f.nullable ? "?" : ""}`),
      rows: json(value.toArray().map((row) => row.toJSON())),
    };
  }
  if (value instanceof Tensor) {
    return {
      kind: "Tensor",
      dtype: value.dtype,
      shape: value.shape,
      strides: value.strides,
      values: json(value.toArray()),
    };
  }
  if (value instanceof ArrayBuffer) return { kind: "ArrayBuffer", bytes: [...new Uint8Array(value)] };
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return { kind: value.constructor.name, values: json([...(value as unknown as Iterable<unknown>)]) };
  }
  return { kind: "other", value: json(value) };
}
