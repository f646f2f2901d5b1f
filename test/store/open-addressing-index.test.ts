import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { NOT_FOUND, OpenAddressingIndex } from "../../src/store/open-addressing-index.ts";

/**
 * Keys are strings "kN"; the value of key kN is N; each key's hash is chosen by the test, so collisions,
 * long probe chains and chains that wrap past the last bucket are easy to make.
 */
function indexWithHashes(hashes: Map<number, number>, bucketCount = 16): OpenAddressingIndex<string> {
  return new OpenAddressingIndex<string>(
    {
      hashOfValue: (value) => hashes.get(value) ?? 0,
      hasKey: (value, key) => key === `k${value}`,
    },
    bucketCount,
  );
}

function findValue(index: OpenAddressingIndex<string>, hashes: Map<number, number>, value: number): number {
  return index.find(`k${value}`, hashes.get(value) ?? 0);
}

describe("open-addressing index", () => {
  test("backward-shift delete across the wrap-around keeps every other key findable", () => {
    // Three keys whose home is the last of 16 buckets: they sit in buckets 15, 0 and 1.
    const hashes = new Map([
      [1, 15],
      [2, 15],
      [3, 15],
      [4, 0],
    ]);
    const index = indexWithHashes(hashes);
    for (const value of [1, 2, 3, 4]) index.insert(value);
    expect(index.bucketCount).toBe(16);
    index.checkInvariants();
    index.remove(1);
    index.checkInvariants();
    expect(findValue(index, hashes, 1)).toBe(NOT_FOUND);
    for (const value of [2, 3, 4]) expect(findValue(index, hashes, value)).toBe(value);
    // Value 4 (home 0) was displaced to bucket 2: after the shifts it is back within reach.
    index.remove(2);
    index.remove(3);
    index.checkInvariants();
    expect(findValue(index, hashes, 4)).toBe(4);
    expect(index.values()).toEqual([4]);
  });

  test("grows to stay at most half full", () => {
    const hashes = new Map<number, number>();
    const index = indexWithHashes(hashes, 4);
    for (let value = 0; value < 100; value++) {
      hashes.set(value, value * 7);
      index.insert(value);
    }
    expect(index.bucketCount).toBe(256);
    expect(index.size).toBe(100);
    index.checkInvariants();
    for (let value = 0; value < 100; value++) expect(findValue(index, hashes, value)).toBe(value);
  });

  test("removing a value that is not indexed throws", () => {
    const index = indexWithHashes(new Map());
    index.insert(3);
    expect(() => index.remove(4)).toThrow(/invariant/);
  });

  test("random inserts, finds and deletes match a Map model", () => {
    type Op = { kind: "insert" | "remove" | "find"; value: number };
    const KEYS = 40;
    // Hashes concentrated on a few buckets near both ends of every table size: collisions and wrap-around.
    const hashArbitrary = fc.oneof(
      fc.constantFrom(0, 1, 2, 13, 14, 15, 30, 31, 63, 127, 0x7fffffff, -1, -2),
      fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    );
    const opArbitrary: fc.Arbitrary<Op> = fc.record({
      kind: fc.constantFrom("insert" as const, "insert" as const, "remove" as const, "find" as const),
      value: fc.nat(KEYS - 1),
    });
    fc.assert(
      fc.property(
        fc.array(hashArbitrary, { minLength: KEYS, maxLength: KEYS }),
        fc.constantFrom(2, 4, 16),
        fc.array(opArbitrary, { maxLength: 300 }),
        (hashList, bucketCount, ops) => {
          const hashes = new Map(hashList.map((hash, value) => [value, hash]));
          const index = indexWithHashes(hashes, bucketCount);
          const model = new Set<number>();
          for (const op of ops) {
            if (op.kind === "insert" && !model.has(op.value)) {
              index.insert(op.value);
              model.add(op.value);
            } else if (op.kind === "remove" && model.has(op.value)) {
              index.remove(op.value);
              model.delete(op.value);
            } else {
              expect(findValue(index, hashes, op.value)).toBe(model.has(op.value) ? op.value : NOT_FOUND);
            }
            expect(index.size).toBe(model.size);
            index.checkInvariants();
          }
          for (let value = 0; value < KEYS; value++) {
            expect(findValue(index, hashes, value)).toBe(model.has(value) ? value : NOT_FOUND);
          }
          expect(index.values().sort((a, b) => a - b)).toEqual([...model].sort((a, b) => a - b));
        },
      ),
      { numRuns: 500 },
    );
  });
});
