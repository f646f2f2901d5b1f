import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ProtocolError } from "../../src/protocol/errors.ts";
import {
  AcquireStatus,
  collectPins,
  DeferredRemovals,
  DirectoryHit,
  drainAccesses,
  isPinned,
  PinHeader,
  PinTable,
  type PinTableView,
} from "../../src/protocol/shared-directory/index.ts";
import { idOf, makeClient, makeDirectory } from "./helpers.ts";

describe("pin tables and the reuse protocol", () => {
  test("acquire pins a sealed entry; the store defers its free until the pin goes", () => {
    const { writer, reader } = makeDirectory(16);
    const client = makeClient(reader);
    const index = writer.publish(idOf(1), 4096, 100, 8);
    const hit = new DirectoryHit();
    expect(client.acquirer.acquire(idOf(1), hit)).toBe(AcquireStatus.PINNED);
    expect([hit.index, hit.offset, hit.dataSize, hit.metadataSize]).toEqual([index, 4096, 100, 8]);
    const slot = client.acquirer.slot;
    const removals = new DeferredRemovals<string>();
    removals.remove(writer, index, "object-1");
    // Marked: nobody can newly pin it, but the held pin keeps its memory.
    expect(client.acquirer.acquire(idOf(1), new DirectoryHit())).toBe(AcquireStatus.ABSENT);
    expect(removals.reclaim(writer, [client.view])).toEqual([]);
    expect(removals.pendingTokens()).toEqual(["object-1"]);
    client.acquirer.release(slot);
    expect(removals.reclaim(writer, [client.view])).toEqual(["object-1"]);
    expect(removals.pendingCount).toBe(0);
    expect(client.pins.pinnedCount).toBe(0);
  });

  test("a pin whose re-check fails is withdrawn (the entry changed after the lookup)", () => {
    const { writer, reader } = makeDirectory(16);
    const client = makeClient(reader);
    const index = writer.publish(idOf(2), 0, 1, 0);
    const hit = new DirectoryHit();
    expect(reader.find(idOf(2), hit)).toBe(0);
    writer.beginRemove(index);
    // What acquire does between lookup and use, with the store's mark in between:
    const slot = client.pins.pin(hit.index, hit.version);
    expect(reader.versionAt(hit.index)).not.toBe(hit.version);
    client.pins.unpin(slot);
    expect(collectPins([client.view], 16).total).toBe(0);
  });

  test("a full pin table falls back to the socket", () => {
    const { writer, reader } = makeDirectory(16);
    const client = makeClient(reader, 2);
    writer.publish(idOf(1), 0, 1, 0);
    const hit = new DirectoryHit();
    expect(client.acquirer.acquire(idOf(1), hit)).toBe(AcquireStatus.PINNED);
    expect(client.acquirer.acquire(idOf(1), hit)).toBe(AcquireStatus.PINNED);
    expect(client.acquirer.acquire(idOf(1), hit)).toBe(AcquireStatus.FALL_BACK);
    expect(collectPins([client.view], 16).get(hit.index, hit.version)).toBe(2);
    expect(() => client.pins.unpin(5)).toThrow(RangeError);
  });

  test("pins of a dead client vanish with its table", () => {
    const { writer, reader } = makeDirectory(16);
    const dead = makeClient(reader);
    const alive = makeClient(reader);
    const index = writer.publish(idOf(1), 0, 1, 0);
    expect(dead.acquirer.acquire(idOf(1), new DirectoryHit())).toBe(AcquireStatus.PINNED);
    const removals = new DeferredRemovals<number>();
    removals.remove(writer, index, 1);
    expect(removals.reclaim(writer, [dead.view, alive.view])).toEqual([]);
    expect(removals.reclaim(writer, [alive.view])).toEqual([1]);
  });

  test("garbage pin tables never hide a real pin, never free anything, never throw", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.nat(20)), {
          minLength: 1,
          maxLength: 200,
        }),
        fc.array(fc.nat(7), { minLength: 1, maxLength: 8 }),
        (garbage, pinnedIds) => {
          const capacity = 16;
          const { writer, reader } = makeDirectory(capacity);
          const honest = makeClient(reader);
          const hostile = makeClient(reader, 64, 8);
          const indices = new Map<number, number>();
          for (let id = 0; id < 8; id++) indices.set(id, writer.publish(idOf(id), id * 64, 64, 0));
          const hits = new Map<number, DirectoryHit>();
          for (const id of new Set(pinnedIds)) {
            const hit = new DirectoryHit();
            expect(honest.acquirer.acquire(idOf(id), hit)).toBe(AcquireStatus.PINNED);
            hits.set(id, hit);
          }
          // The hostile client overwrites its whole table, header and ring included.
          const words = hostile.view.words;
          for (let i = 0; i < words.length; i++) words[i] = garbage[i % garbage.length] as number;
          const tables: PinTableView[] = [hostile.view, honest.view];
          const counts = collectPins(tables, capacity);
          for (const hit of hits.values()) {
            expect(isPinned(tables, hit.index, hit.version)).toBe(true);
            expect(counts.get(hit.index, hit.version)).toBeGreaterThanOrEqual(1);
          }
          let visits = 0;
          drainAccesses(hostile.view, 0, capacity, (index) => {
            expect(index).toBeLessThan(capacity);
            visits++;
          });
          expect(visits).toBeLessThanOrEqual(hostile.view.ringSize);
          const removals = new DeferredRemovals<number>();
          for (const [id, index] of indices) removals.remove(writer, index, id);
          const freed = removals.reclaim(writer, tables);
          for (const id of hits.keys()) expect(freed).not.toContain(id);
          expect(freed.length + removals.pendingCount).toBe(8);
        },
      ),
      { numRuns: 200 },
    );
  });

  test("the access ring reports uses since the cursor, at most ringSize of them", () => {
    const { writer, reader } = makeDirectory(16);
    const client = makeClient(reader, 4, 4);
    writer.publish(idOf(1), 0, 1, 0);
    const hit = new DirectoryHit();
    const seen: number[] = [];
    let cursor = 0;
    for (let i = 0; i < 3; i++) {
      expect(client.acquirer.acquire(idOf(1), hit)).toBe(AcquireStatus.PINNED);
      client.acquirer.release(client.acquirer.slot);
    }
    cursor = drainAccesses(client.view, cursor, 16, (index) => seen.push(index));
    expect(seen).toEqual([hit.index, hit.index, hit.index]);
    for (let i = 0; i < 10; i++) client.pins.recordAccess(i);
    seen.length = 0;
    cursor = drainAccesses(client.view, cursor, 16, (index) => seen.push(index));
    expect(seen).toEqual([6, 7, 8, 9]);
    expect(cursor).toBe(13);
  });

  test("attach refuses a region that is not a pin table", () => {
    expect(() => PinTable.attach(new ArrayBuffer(256))).toThrow(ProtocolError);
    const region = new ArrayBuffer(64);
    new Uint32Array(region)[PinHeader.MAGIC] = 0x4e504c50;
    new Uint32Array(region)[PinHeader.FORMAT] = 1;
    new Uint32Array(region)[PinHeader.SLOT_COUNT] = 4096;
    new Uint32Array(region)[PinHeader.RING_SIZE] = 8;
    expect(() => PinTable.attach(region)).toThrow(ProtocolError);
  });
});
