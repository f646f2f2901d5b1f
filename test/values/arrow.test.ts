import { ptr } from "bun:ffi";
import { expect, describe as group, test } from "bun:test";
import { join } from "node:path";
import {
  Bool,
  Dictionary,
  Field,
  Float64,
  Int32,
  Int64,
  List,
  type RecordBatch,
  Schema,
  Struct,
  Table,
  tableFromArrays,
  tableFromIPC,
  tableToIPC,
  Utf8,
  vectorFromArray,
} from "apache-arrow";
import {
  FixedSizeBufferWriter,
  getArrowStreamSize,
  InvalidValueError,
  MockOutputStream,
  ObjectID,
  readArrowStream,
  VALUE_METADATA_PREFIX,
  ValueFormatError,
  writeArrowStream,
} from "../../src/client/index.ts";
import { runClientProcess } from "../helpers/store-process.ts";
import { describe, json } from "./describe.ts";
import { CLIENTS, useStoreAndClient } from "./fixture.ts";

const enc = new TextEncoder();
const fx = useStoreAndClient();
const { refCountOf, refCountBecomes } = fx;

const rows = (t: Table) => json(t.toArray().map((r) => r.toJSON())) as unknown[];

/** A table with nulls, a dictionary, list, struct, BigInt and bool columns. */
function richTable(): Table {
  return new Table({
    f64: vectorFromArray([1.5, null, -3], new Float64()),
    i64: vectorFromArray([2n ** 62n, -(2n ** 40n), null], new Int64()),
    flag: vectorFromArray([true, null, false], new Bool()),
    word: vectorFromArray(["red", "green", "red"], new Dictionary(new Utf8(), new Int32())),
    list: vectorFromArray([[1, 2], [], null], new List(new Field("item", new Int32(), true))),
    point: vectorFromArray(
      [{ x: 1, label: "a" }, null, { x: 3, label: null }],
      new Struct([new Field("x", new Int32(), true), new Field("label", new Utf8(), true)]),
    ),
  });
}

group("Arrow tables through put/get", () => {
  test("a table with nulls, dictionary, list, struct and BigInt columns round-trips", async () => {
    const table = richTable();
    const back = (await fx.client.get(await fx.client.put(table))) as Table;
    expect(back).toBeInstanceOf(Table);
    expect(back.schema.fields.map((f) => `${f.name}: ${f.type}`)).toEqual(
      table.schema.fields.map((f) => `${f.name}: ${f.type}`),
    );
    expect(rows(back)).toEqual(rows(table));
    expect(back.getChild("i64")?.get(0)).toBe(2n ** 62n);
    expect(rows(back)[0]).toEqual({
      f64: 1.5,
      i64: `${2n ** 62n}n`,
      flag: true,
      word: "red",
      list: [1, 2],
      point: { x: 1, label: "a" },
    });
    expect(back.getChild("word")?.type).toBeInstanceOf(Dictionary);
    expect(back.getChild("list")?.get(2)).toBeNull();
  });

  test("a zero-row table keeps its schema; a RecordBatch comes back as a Table", async () => {
    const empty = new Table(
      new Schema([new Field("x", new Float64(), true), new Field("s", new Utf8(), true)]),
    );
    const back = (await fx.client.get(await fx.client.put(empty))) as Table;
    expect(back.numRows).toBe(0);
    expect(back.schema.fields.map((f) => f.name)).toEqual(["x", "s"]);
    const zeroRows = tableFromArrays({ n: new Int32Array(0) });
    expect(((await fx.client.get(await fx.client.put(zeroRows))) as Table).numRows).toBe(0);

    const batch = tableFromArrays({ a: Int32Array.of(1, 2), b: Float64Array.of(0.5, 1.5) })
      .batches[0] as RecordBatch;
    const fromBatch = await fx.client.get(await fx.client.put(batch));
    expect(fromBatch).toBeInstanceOf(Table);
    expect(rows(fromBatch as Table)).toEqual([
      { a: 1, b: 0.5 },
      { a: 2, b: 1.5 },
    ]);
  });

  test("column buffers point into the object in shared memory, aligned for their element type", async () => {
    const table = tableFromArrays({
      a: Float64Array.of(1, 2, 3),
      b: BigInt64Array.of(4n, 5n, 6n),
      c: Int32Array.of(7, 8, 9),
    });
    const id = await fx.client.put(table);
    const back = (await fx.client.get(id)) as Table;
    const [raw] = await fx.client.getBuffers([id]);
    if (raw === null || raw === undefined) throw new Error("object missing");
    const base: number = ptr(raw);
    expect(base % 64).toBe(0);
    for (const name of ["a", "b", "c"]) {
      const values = back.getChild(name)?.data[0]?.values as Float64Array | BigInt64Array | Int32Array;
      // the view's ArrayBuffer is the object's data; its bytes are those at the same offset of getBuffers' view
      expect(values.buffer.byteLength).toBe(raw.byteLength);
      expect(ptr(values) as number).toBe(base + values.byteOffset);
      expect(values.byteOffset % values.BYTES_PER_ELEMENT).toBe(0);
      expect([...raw.subarray(values.byteOffset, values.byteOffset + values.byteLength)]).toEqual([
        ...new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
      ]);
    }
    await fx.client.release(id);
  });

  test("the table keeps its object referenced while reachable", async () => {
    const id = await fx.client.put(tableFromArrays({ a: Float64Array.of(1, 2) }));
    await (async () => {
      const table = (await fx.client.get(id)) as Table;
      expect(await refCountOf(id)).toBe(1);
      expect(table.getChild("a")?.get(1)).toBe(2);
    })();
    expect(await refCountBecomes(id, 0)).toBe(0);
  });

  test("tables put by another process are read here, and the reverse", async () => {
    const writer = await runClientProcess(join(CLIENTS, "put-values.ts"), [fx.store.socketPath, "a7"]);
    expect(writer.code).toBe(0);
    const id4 = ObjectID.fromHex("a704".padEnd(40, "0"));
    expect(describe(await fx.client.get(id4))).toEqual({
      kind: "Table",
      numRows: 2,
      schema: ["x: Int32", "y: Dictionary<Int32, Utf8>?"],
      rows: [
        { x: 1, y: "p" },
        { x: 2, y: "q" },
      ],
    });
    const mine = await fx.client.put(richTable());
    const reader = await runClientProcess(join(CLIENTS, "describe-objects.ts"), [
      fx.store.socketPath,
      mine.hex(),
    ]);
    expect(reader.code).toBe(0);
    expect(JSON.parse(reader.stdout)).toEqual(describe(richTable()));
  });

  test("objects with their own metadata: put's metadata comes back with withMeta", async () => {
    const id = await fx.client.put(tableFromArrays({ a: Int32Array.of(1) }), {
      metadata: enc.encode('{"v":2}'),
    });
    const got = await fx.client.get(id, { withMeta: true });
    if (typeof got === "symbol") throw new Error("object missing");
    expect(new TextDecoder().decode(got.metadata)).toBe('{"v":2}');
    expect(rows(got.value as Table)).toEqual([{ a: 1 }]);
  });
});

group("the low-level path: MockOutputStream, create, FixedSizeBufferWriter, seal, getBuffers", () => {
  test("MockOutputStream's size is exactly what FixedSizeBufferWriter writes; the stream is standard Arrow IPC", () => {
    const table = richTable();
    const mock = new MockOutputStream();
    expect(writeArrowStream(table, mock)).toBe(mock.size());
    expect(getArrowStreamSize(table)).toBe(mock.size());
    const target = new Uint8Array(mock.size());
    const writer = new FixedSizeBufferWriter(target);
    writeArrowStream(table, writer);
    expect(writer.position).toBe(mock.size());
    expect(writer.remaining).toBe(0);
    // apache-arrow's own reader and writer agree with ours byte for byte
    expect(rows(tableFromIPC(target))).toEqual(rows(table));
    expect([...target]).toEqual([...tableToIPC(table, "stream")]);
  });

  test("the pieces are written straight into the buffer, the column values copied exactly once", () => {
    const values = Float64Array.from({ length: 1000 }, (_, i) => i);
    const table = tableFromArrays({ v: values });
    const pieces: Uint8Array[] = [];
    let position = 0;
    writeArrowStream(table, {
      write(bytes) {
        pieces.push(bytes);
        position += bytes.byteLength;
      },
      get position() {
        return position;
      },
    });
    // the column's 8000 bytes arrive as one piece that IS the column's memory (no intermediate buffer)
    const column = table.getChild("v")?.data[0]?.values as Float64Array;
    const body = pieces.find((p) => p.byteLength === 8000);
    expect(body).toBeDefined();
    expect(body?.buffer).toBe(column.buffer);
    expect(body?.byteOffset).toBe(column.byteOffset);
    expect(pieces.every((p) => p.byteLength <= 8000)).toBe(true);
  });

  test("a FixedSizeBufferWriter too small throws InvalidValueError", () => {
    const table = tableFromArrays({ a: Float64Array.of(1, 2, 3) });
    const small = new FixedSizeBufferWriter(new Uint8Array(getArrowStreamSize(table) - 1));
    expect(() => writeArrowStream(table, small)).toThrow(InvalidValueError);
  });

  test("written in one process with create/seal, read in another with getBuffers + readArrowStream", async () => {
    const writer = await runClientProcess(join(CLIENTS, "put-arrow-low-level.ts"), [fx.store.socketPath]);
    expect(writer.code).toBe(0);
    const { id, size, written } = JSON.parse(writer.stdout) as { id: string; size: number; written: number };
    expect(written).toBe(size);
    const reader = await runClientProcess(join(CLIENTS, "read-arrow-buffers.ts"), [fx.store.socketPath, id]);
    expect(reader.code).toBe(0);
    const [schema, rowsLine, offsets] = reader.stdout.trim().split("\n");
    expect(schema).toBe("a: Float64, b: Int32");
    expect(JSON.parse(rowsLine as string)).toEqual([
      { a: 0.25, b: -1 },
      { a: 0.5, b: 0 },
      { a: 0.75, b: 1 },
    ]);
    const { sameBuffer, byteOffset } = JSON.parse(offsets as string) as {
      sameBuffer: boolean;
      byteOffset: number;
    };
    expect(sameBuffer).toBe(true);
    expect(byteOffset % 8).toBe(0);
    // put() of the same table stores the same bytes (same size) as the low-level path
    const [data] = await fx.client.getBuffers([ObjectID.fromHex(id)]);
    expect(data?.byteLength).toBe(size);
    expect(rows(readArrowStream(data as Uint8Array))).toHaveLength(3);
    await fx.client.release(ObjectID.fromHex(id));
  });
});

group("corrupt streams", () => {
  test("a corrupted stored stream gives ValueFormatError, never a crash, and holds nothing", async () => {
    const good = tableToIPC(tableFromArrays({ x: Float64Array.of(1, 2, 3), s: ["a", "b", "c"] }), "stream");
    const corruptions: Uint8Array[] = [
      new Uint8Array(0),
      new Uint8Array(64).fill(7),
      good.slice(0, 100),
      good.slice(0, good.length - 60),
    ];
    const flipped = good.slice();
    flipped[0] = (flipped[0] as number) ^ 0xff;
    corruptions.push(flipped);
    for (const data of corruptions) {
      const id = ObjectID.fromRandom();
      await fx.client.createAndSeal(id, data, enc.encode(`${VALUE_METADATA_PREFIX}arrow-stream\n`));
      const error = await fx.client.get(id).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValueFormatError);
      expect((error as ValueFormatError).code).toBe("VALUE_FORMAT");
      expect(await refCountOf(id)).toBe(0);
    }
    expect(() => readArrowStream(new Uint8Array(64).fill(7))).toThrow(ValueFormatError);
  });

  test("buffer regions past the body are caught by the column checks", async () => {
    const good = tableToIPC(tableFromArrays({ x: Float64Array.of(1, 2, 3) }), "stream");
    // The batch's buffer descriptors for x are (validity: offset 0, length 0), (data: offset 0, length 24):
    // four little-endian int64s 0, 0, 0, 24. The body length (also 24) is not preceded by three zeros.
    const words = (at: number) => new DataView(good.buffer, good.byteOffset + at, 8).getBigInt64(0, true);
    const lengthAt: number[] = [];
    for (let i = 24; i + 8 <= good.length; i += 8) {
      if (words(i - 24) === 0n && words(i - 16) === 0n && words(i - 8) === 0n && words(i) === 24n) {
        lengthAt.push(i);
      }
    }
    expect(lengthAt).toHaveLength(1);
    // move the data region to [16, 40): past the 24-byte body, which apache-arrow clamps to one value
    const bad = good.slice();
    new DataView(bad.buffer).setBigInt64((lengthAt[0] as number) - 8, 16n, true);
    const lenient = tableFromIPC(bad);
    expect(lenient.numRows).toBe(3);
    expect(lenient.getChild("x")?.data[0]?.values.length).toBe(1);
    // so only readArrowStream's column check can report it
    const message =
      'The stored Arrow stream is corrupt: the data buffer of column "x" is shorter than its 3 rows need.';
    expect(() => readArrowStream(bad)).toThrow(ValueFormatError);
    expect(() => readArrowStream(bad)).toThrow(message);
    const id = ObjectID.fromRandom();
    await fx.client.createAndSeal(id, bad, enc.encode(`${VALUE_METADATA_PREFIX}arrow-stream\n`));
    const error = await fx.client.get(id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValueFormatError);
    expect((error as ValueFormatError).message).toBe(message);
    expect(await refCountOf(id)).toBe(0);
  });
});
