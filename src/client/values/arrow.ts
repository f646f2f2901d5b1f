import {
  type Data,
  DataType,
  RecordBatch,
  RecordBatchReader,
  RecordBatchStreamWriter,
  Table,
} from "apache-arrow";
import { InvalidValueError, messageOf, ValueFormatError } from "./errors.ts";
import { type ByteSink, MockOutputStream } from "./sink.ts";

/** An Arrow value the store keeps as an IPC stream. */
export type ArrowValue = Table | RecordBatch;

export function isArrowValue(value: unknown): value is ArrowValue {
  return value instanceof Table || value instanceof RecordBatch;
}

/**
 * An Arrow stream writer whose every piece (message headers, then each column buffer as it is) goes
 * straight to a ByteSink: no intermediate whole-stream buffer, one copy from the columns into the sink.
 */
class SinkStreamWriter extends RecordBatchStreamWriter {
  readonly #target: ByteSink;

  constructor(target: ByteSink) {
    super();
    this.#target = target;
  }

  protected override _write(chunk: unknown): this {
    if (!this._started) return this;
    const view = chunk as ArrayBufferView;
    if (view.byteLength === 0) return this;
    this.#target.write(
      view instanceof Uint8Array ? view : new Uint8Array(view.buffer, view.byteOffset, view.byteLength),
    );
    this._position += view.byteLength;
    return this;
  }
}

/**
 * Writes a Table or RecordBatch as an Arrow IPC stream (schema, dictionaries, batches, end-of-stream)
 * into the sink. Returns the bytes written. Column buffers are written in 8-byte aligned positions, so a
 * reader of a 64-byte aligned object gets aligned, zero-copy columns.
 */
export function writeArrowStream(value: ArrowValue, sink: ByteSink): number {
  if (!isArrowValue(value)) {
    throw new InvalidValueError("writeArrowStream takes an apache-arrow Table or RecordBatch.");
  }
  const start = sink.position;
  const writer = new SinkStreamWriter(sink);
  if (value instanceof Table) {
    // write(table) writes the schema even for a table without batches, then the batches, then finishes.
    writer.reset(undefined, value.schema);
    for (const batch of value.batches) writer.write(batch);
  } else {
    writer.write(value);
  }
  writer.close();
  return sink.position - start;
}

/** Bytes `writeArrowStream` will write for this value, computed without writing (MockOutputStream). */
export function getArrowStreamSize(value: ArrowValue): number {
  const mock = new MockOutputStream();
  writeArrowStream(value, mock);
  return mock.size();
}

/**
 * Reads an Arrow IPC stream into a Table whose column buffers are zero-copy views on `buffer` (when they
 * are aligned, which they are for objects in the store). Throws ValueFormatError for a corrupt stream:
 * unreadable messages, no schema, or column buffers shorter than their row counts need. (The format has
 * no checksum: flipped bits inside column values cannot be detected.)
 */
export function readArrowStream(buffer: Uint8Array): Table {
  let table: Table;
  try {
    const reader = RecordBatchReader.from(buffer);
    reader.open();
    const schema = reader.schema;
    if (schema === undefined || schema === null) throw new Error("it holds no schema message");
    table = new Table(schema, reader.readAll());
  } catch (error) {
    throw new ValueFormatError(`The stored Arrow stream is corrupt: ${messageOf(error)}`, { cause: error });
  }
  for (const batch of table.batches) {
    batch.schema.fields.forEach((field, i) => {
      const column = batch.data.children[i];
      if (column !== undefined) checkData(column, field.name);
    });
  }
  return table;
}

/** Checks that every buffer of a column (and its children and dictionary) covers its rows. */
function checkData(data: Data, where: string): void {
  const end = data.offset + data.length;
  const need = (ok: boolean, what: string) => {
    if (!ok) {
      throw new ValueFormatError(
        `The stored Arrow stream is corrupt: the ${what} of column "${where}" is shorter than its ${data.length} rows need.`,
      );
    }
  };
  const bits = (n: number) => Math.ceil(n / 8);
  const type = data.type as DataType;
  if (data.nullBitmap !== undefined && data.nullBitmap.length > 0)
    need(data.nullBitmap.length >= bits(end), "validity bitmap");
  const offsets = data.valueOffsets as ArrayLike<number | bigint> | undefined;
  const values = data.values as ArrayLike<unknown> | undefined;
  if (DataType.isDictionary(type)) {
    need(values !== undefined && values.length >= end, "index buffer");
    for (const chunk of data.dictionary?.data ?? []) checkData(chunk, `${where} (dictionary)`);
  } else if (offsets !== undefined && offsets.length > 0 && !DataType.isUnion(type)) {
    need(offsets.length >= end + 1, "offsets buffer");
    const last = Number(offsets[end]);
    if (DataType.isList(type) || DataType.isMap(type)) {
      need((data.children[0]?.length ?? 0) >= last, "child array");
    } else if (values !== undefined) {
      need(values.length >= last, "data buffer");
    }
  } else if (DataType.isBool(type)) {
    need(values !== undefined && values.length >= bits(end), "data buffer");
  } else if (DataType.isFixedSizeList(type)) {
    need((data.children[0]?.length ?? 0) >= end * type.listSize, "child array");
  } else if (DataType.isStruct(type)) {
    for (const child of data.children) need(child.length >= end, "child array");
  } else if (values !== undefined && data.stride > 0 && !DataType.isNull(type) && !DataType.isUnion(type)) {
    need(values.length >= end * data.stride, "data buffer");
  }
  data.children.forEach((child: Data, i: number) => {
    checkData(child, `${where}.${type.children?.[i]?.name ?? i}`);
  });
}
