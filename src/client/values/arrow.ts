import { RecordBatch, RecordBatchStreamWriter, Table, tableFromIPC } from "apache-arrow";
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
 * are aligned, which they are for objects in the store). Throws ValueFormatError for a corrupt stream.
 */
export function readArrowStream(buffer: Uint8Array): Table {
  let table: Table;
  try {
    table = tableFromIPC(buffer);
  } catch (error) {
    throw new ValueFormatError(`The stored Arrow stream is corrupt: ${messageOf(error)}`, { cause: error });
  }
  if (buffer.byteLength > 0 && table.schema.fields.length === 0 && table.batches.length === 0) {
    throw new ValueFormatError("The stored Arrow stream is corrupt: it holds no schema.");
  }
  return table;
}
