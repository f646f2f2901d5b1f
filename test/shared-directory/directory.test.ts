import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ProtocolError } from "../../src/protocol/errors.ts";
import {
  DirectoryReader,
  DirectoryWriter,
  directorySizeBytes,
  Entry,
  EntryState,
  entryBase,
  MAX_LOAD_FACTOR,
  type RemovalTicket,
} from "../../src/protocol/shared-directory/index.ts";
import { idOf, makeDirectory } from "./helpers.ts";

interface ModelEntry {
  offset: number;
  dataSize: number;
  metadataSize: number;
  index: number;
}

type Command =
  | { kind: "publish"; id: number; offset: number; dataSize: number; metadataSize: number }
  | { kind: "beginRemove"; id: number }
  | { kind: "finishRemove"; pick: number }
  | { kind: "lookup"; id: number };

const ID_SPACE = 40;
const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    kind: fc.constant("publish" as const),
    id: fc.nat(ID_SPACE),
    offset: fc.oneof(fc.nat(), fc.constant(2 ** 40 + 3), fc.constant(2 ** 52)),
    dataSize: fc.oneof(fc.nat(), fc.constant(2 ** 33 + 1)),
    metadataSize: fc.nat(2 ** 32 - 1),
  }),
  fc.record({ kind: fc.constant("beginRemove" as const), id: fc.nat(ID_SPACE) }),
  fc.record({ kind: fc.constant("finishRemove" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("lookup" as const), id: fc.nat(ID_SPACE) }),
);

class Model {
  readonly sealed = new Map<number, ModelEntry>();
  readonly removing: RemovalTicket[] = [];
  constructor(readonly writer: DirectoryWriter) {}

  run(c: Command): void {
    const w = this.writer;
    if (c.kind === "publish") {
      if (this.sealed.has(c.id)) {
        expect(() => w.publish(idOf(c.id), c.offset, c.dataSize, c.metadataSize)).toThrow(RangeError);
        return;
      }
      const index = w.publish(idOf(c.id), c.offset, c.dataSize, c.metadataSize);
      if (index < 0) {
        expect(w.usedSlots + 1).toBeGreaterThan(Math.floor(w.capacity * MAX_LOAD_FACTOR));
        return;
      }
      this.sealed.set(c.id, { offset: c.offset, dataSize: c.dataSize, metadataSize: c.metadataSize, index });
    } else if (c.kind === "beginRemove") {
      const entry = this.sealed.get(c.id);
      if (entry === undefined) return;
      expect(w.find(idOf(c.id))).toBe(entry.index);
      this.removing.push(w.beginRemove(entry.index));
      this.sealed.delete(c.id);
    } else if (c.kind === "finishRemove") {
      if (this.removing.length === 0) return;
      const [ticket] = this.removing.splice(c.pick % this.removing.length, 1);
      w.finishRemove(ticket as RemovalTicket);
    }
  }

  check(reader: DirectoryReader): void {
    for (let id = 0; id <= ID_SPACE; id++) {
      const hit = reader.lookup(idOf(id));
      const expected = this.sealed.get(id);
      if (expected === undefined) {
        expect(hit).toBeNull();
        expect(this.writer.find(idOf(id))).toBe(-1);
      } else {
        expect(hit).not.toBeNull();
        expect(hit?.index).toBe(expected.index);
        expect([hit?.offset, hit?.dataSize, hit?.metadataSize]).toEqual([
          expected.offset,
          expected.dataSize,
          expected.metadataSize,
        ]);
        expect((hit?.version ?? 1) % 2).toBe(0);
      }
    }
    expect(this.writer.sealedCount).toBe(this.sealed.size);
    expect(reader.sealedCount).toBe(this.sealed.size);
  }
}

describe("directory writer and reader against a Map model", () => {
  test("random publish / remove / lookup sequences", () => {
    fc.assert(
      fc.property(fc.constantFrom(4, 16, 64), fc.array(command, { maxLength: 300 }), (capacity, commands) => {
        const { writer, reader } = makeDirectory(capacity);
        const model = new Model(writer);
        for (const c of commands) {
          model.run(c);
          model.check(reader);
        }
        // Drain: every removal finished, every sealed entry removed: the table is empty again.
        for (const entry of model.sealed.values()) model.removing.push(writer.beginRemove(entry.index));
        model.sealed.clear();
        for (const ticket of model.removing.splice(0)) writer.finishRemove(ticket);
        model.check(reader);
        expect(writer.usedSlots).toBe(0);
      }),
      { numRuns: 150 },
    );
  });

  test("versions only grow, by 2 per change, and stay even between changes", () => {
    const { writer } = makeDirectory(8);
    const index = writer.publish(idOf(1), 0, 10, 0);
    const v0 = writer.versionOf(index);
    expect(v0).toBe(2);
    const ticket = writer.beginRemove(index);
    expect(ticket.sealedVersion).toBe(v0);
    expect(writer.versionOf(index)).toBe(v0 + 2);
    expect(writer.stateOf(index)).toBe(EntryState.REMOVING);
    writer.finishRemove(ticket);
    // The slot was the only one used, so the tombstone became EMPTY at once: one more change.
    expect(writer.stateOf(index)).toBe(EntryState.EMPTY);
    expect(writer.versionOf(index)).toBe(v0 + 6);
    expect(writer.publish(idOf(1), 0, 10, 0)).toBe(index);
    expect(writer.versionOf(index)).toBe(v0 + 8);
  });

  test("a stale ticket or a double removal is refused", () => {
    const { writer } = makeDirectory(8);
    const index = writer.publish(idOf(1), 0, 10, 0);
    const ticket = writer.beginRemove(index);
    expect(() => writer.beginRemove(index)).toThrow(RangeError);
    writer.finishRemove(ticket);
    expect(() => writer.finishRemove(ticket)).toThrow(RangeError);
    expect(() => writer.stateOf(8)).toThrow(RangeError);
  });

  test("a new entry of an id still being removed is found; the old one is skipped", () => {
    const { writer, reader } = makeDirectory(16);
    const old = writer.publish(idOf(3), 100, 1, 0);
    const ticket = writer.beginRemove(old);
    expect(reader.lookup(idOf(3))).toBeNull();
    const fresh = writer.publish(idOf(3), 200, 2, 0);
    expect(fresh).not.toBe(old);
    expect(reader.lookup(idOf(3))?.offset).toBe(200);
    writer.finishRemove(ticket);
    expect(reader.lookup(idOf(3))?.offset).toBe(200);
  });

  test("a reader gives up (BUSY) on an entry left mid-write instead of using it", () => {
    const capacity = 8;
    const region = new ArrayBuffer(directorySizeBytes(capacity));
    const writer = DirectoryWriter.create(region, capacity, 1);
    const reader = DirectoryReader.attach(region);
    const index = writer.publish(idOf(5), 64, 8, 0);
    const words = new Uint32Array(region);
    words[entryBase(index) + Entry.VERSION] = (words[entryBase(index) + Entry.VERSION] as number) + 1;
    expect(reader.lookup(idOf(5))).toBeNull();
  });

  test("attach refuses regions that are not directories", () => {
    expect(() => DirectoryReader.attach(new ArrayBuffer(4096))).toThrow(ProtocolError);
    const region = new ArrayBuffer(directorySizeBytes(8));
    DirectoryWriter.create(region, 8, 1);
    expect(() => DirectoryReader.attach(region.slice(0, 256))).toThrow(ProtocolError);
    expect(() => DirectoryWriter.create(new ArrayBuffer(64), 8, 1)).toThrow(RangeError);
    expect(() => DirectoryWriter.create(region, 6, 1)).toThrow(RangeError);
    expect(DirectoryReader.attach(region).generation).toBe(1);
  });

  test("the use clock is copied into entries the store sees used", () => {
    const { writer } = makeDirectory(8);
    const index = writer.publish(idOf(1), 0, 1, 0);
    expect(writer.useClockOf(index)).toBe(0);
    expect(writer.tickUseClock()).toBe(1);
    writer.tickUseClock();
    writer.recordUse(index);
    expect(writer.useClockOf(index)).toBe(2);
  });
});
