// Walkthrough §9 "Storing Pandas DataFrames": the two-column frame with an index and a missing value, as
// an Arrow table written straight into a plasma buffer, then read back and printed by a second process.
import { Float64, Table, Utf8, vectorFromArray } from "apache-arrow";
import {
  connect,
  FixedSizeBufferWriter,
  MockOutputStream,
  ObjectID,
  readArrowStream,
  writeArrowStream,
} from "bun-plasma";

const socketPath = process.env.PLASMA_SOCKET ?? process.argv[2] ?? "/tmp/plasma";

/** Prints a table like pandas prints a DataFrame, the first column as the index; nulls as NaN. */
function show(table: Table): string {
  const [indexField, ...fields] = table.schema.fields;
  const cell = (v: unknown) =>
    v === null || v === undefined ? "NaN" : typeof v === "number" ? v.toFixed(1) : String(v);
  const columns = fields.map((f) => [f.name, ...[...(table.getChild(f.name) ?? [])].map(cell)]);
  const index = ["", ...[...(table.getChild(indexField?.name ?? "") ?? [])].map(String)];
  const widths = columns.map((c) => Math.max(...c.map((s) => s.length)));
  const indexWidth = Math.max(...index.map((s) => s.length));
  return index
    .map((ix, row) =>
      [
        ix.padEnd(indexWidth),
        ...columns.map((c, j) => (c[row] as string).padStart((widths[j] as number) + 2)),
      ].join(""),
    )
    .join("\n");
}

if (process.argv.includes("--read")) {
  const client = await connect(socketPath);
  const objectId = ObjectID.fromHex(process.argv[process.argv.length - 1] as string);
  // [data] = client.get_buffers([object_id]); reader = pa.RecordBatchStreamReader(pa.BufferReader(data))
  const [data] = await client.getBuffers([objectId]);
  const table = readArrowStream(data as Uint8Array);
  // result = record_batch.to_pandas()
  console.log(show(table));
  console.log(JSON.stringify(table.toArray().map((row) => row.toJSON())));
  await client.disconnect();
  process.exit(0);
}

// d = {'one': pd.Series([1., 2., 3.], index=['a', 'b', 'c']),
//      'two': pd.Series([1., 2., 3., 4.], index=['a', 'b', 'c', 'd'])}
// df = pd.DataFrame(d); record_batch = pa.RecordBatch.from_pandas(df)
const table = new Table({
  index: vectorFromArray(["a", "b", "c", "d"], new Utf8()),
  one: vectorFromArray([1, 2, 3, null], new Float64()),
  two: vectorFromArray([1, 2, 3, 4], new Float64()),
});
const client = await connect(socketPath);
// mock_sink = pa.MockOutputStream(); write the stream into it; data_size = mock_sink.size()
const mockSink = new MockOutputStream();
writeArrowStream(table, mockSink);
const dataSize = mockSink.size();
// buf = client.create(object_id, data_size); stream = pa.FixedSizeBufferWriter(buf)
const objectId = ObjectID.fromRandom();
const buf = await client.create(objectId, dataSize);
const stream = new FixedSizeBufferWriter(buf);
writeArrowStream(table, stream);
await client.seal(objectId);
await client.release(objectId);
console.log(`wrote ${stream.position} of ${dataSize} bytes into ${objectId.hex()}`);

const reader = Bun.spawn([process.execPath, import.meta.path, socketPath, "--read", objectId.hex()], {
  stdout: "inherit",
  stderr: "inherit",
});
if ((await reader.exited) !== 0) throw new Error("the reading process failed");
await client.disconnect();
