/** Test helpers for the shared directory: regions in plain memory, ids derived from numbers. */
import {
  DirectoryAcquirer,
  DirectoryReader,
  DirectoryWriter,
  directorySizeBytes,
  initPinTable,
  PinTable,
  type PinTableView,
  pinTableSizeBytes,
} from "../../src/protocol/shared-directory/index.ts";

/** A 20-byte id derived from `n` (and `salt`), so any process can rebuild it. */
export function idOf(n: number, salt = 0): Uint8Array {
  const id = new Uint8Array(20);
  let x = (n * 0x9e3779b1 + salt * 0x85ebca77 + 1) >>> 0;
  for (let i = 0; i < 20; i++) {
    x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) >>> 0;
    x = (x ^ (x >>> 12)) >>> 0;
    id[i] = x & 0xff;
  }
  id[0] = n & 0xff;
  id[1] = (n >>> 8) & 0xff;
  return id;
}

export interface Directory {
  writer: DirectoryWriter;
  reader: DirectoryReader;
}

export function makeDirectory(capacity: number, generation = 7): Directory {
  const region = new ArrayBuffer(directorySizeBytes(capacity));
  const writer = DirectoryWriter.create(region, capacity, generation);
  return { writer, reader: DirectoryReader.attach(region) };
}

export interface Client {
  view: PinTableView;
  pins: PinTable;
  acquirer: DirectoryAcquirer;
}

export function makeClient(reader: DirectoryReader, slotCount = 16, ringSize = 8): Client {
  const region = new ArrayBuffer(pinTableSizeBytes(slotCount, ringSize));
  const view = initPinTable(region, slotCount, ringSize);
  const pins = PinTable.attach(region);
  return { view, pins, acquirer: new DirectoryAcquirer(reader, pins) };
}
