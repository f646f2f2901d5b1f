import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ALLOCATION_ALIGNMENT_BYTES, Allocator } from "../../src/store/allocator.ts";

const ALIGN = ALLOCATION_ALIGNMENT_BYTES;

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

/** Checks everything observable about the allocator against the set of live allocations. */
function checkState(allocator: Allocator, live: Map<number, number>): void {
  allocator.checkInvariants();
  const intervals = [...live.keys()]
    .map((offset) => ({ offset, sizeBytes: allocator.blockSizeBytes(offset) }))
    .sort((a, b) => a.offset - b.offset);
  let usedBytes = 0;
  let previousEnd = 0;
  for (const { offset, sizeBytes } of intervals) {
    const requested = live.get(offset) ?? -1;
    expect(offset % ALIGN).toBe(0);
    expect(offset).toBeGreaterThanOrEqual(previousEnd); // no overlap
    expect(offset + sizeBytes).toBeLessThanOrEqual(allocator.capacityBytes);
    expect(sizeBytes).toBeGreaterThanOrEqual(Math.max(requested, 1));
    // Reserved size is the request rounded up, clipped only at the end of the arena.
    expect(sizeBytes).toBe(
      Math.min(roundUp(Math.max(requested, 1), ALIGN), allocator.capacityBytes - offset),
    );
    previousEnd = offset + sizeBytes;
    usedBytes += sizeBytes;
  }
  expect(allocator.usedBytes).toBe(usedBytes);
  expect(allocator.freeBytes).toBe(allocator.capacityBytes - usedBytes);
  expect(allocator.allocationCount).toBe(live.size);
  const blocks = allocator.blocks();
  const freeBlocks = blocks.filter((block) => block.free);
  expect(allocator.freeBlockCount).toBe(freeBlocks.length);
  expect(allocator.largestFreeBlockBytes).toBe(Math.max(0, ...freeBlocks.map((block) => block.sizeBytes)));
}

type Command = { kind: "allocate"; sizeBytes: number } | { kind: "free"; pick: number };

function commandArbitrary(capacityBytes: number): fc.Arbitrary<Command> {
  const size = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 300 }) },
    { weight: 3, arbitrary: fc.integer({ min: 0, max: Math.max(1, Math.floor(capacityBytes / 50)) }) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: Math.max(1, Math.floor(capacityBytes / 4)) }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: capacityBytes + 100 }) },
    { weight: 1, arbitrary: fc.constantFrom(capacityBytes, capacityBytes - 1, capacityBytes + 1, ALIGN) },
  );
  return fc.oneof(
    { weight: 3, arbitrary: size.map((sizeBytes): Command => ({ kind: "allocate", sizeBytes })) },
    { weight: 2, arbitrary: fc.nat().map((pick): Command => ({ kind: "free", pick })) },
  );
}

const capacityArbitrary = fc.oneof(
  fc.integer({ min: 1, max: 4096 }),
  fc.integer({ min: 1, max: 10_000_000 }),
  fc.constantFrom(10e9, 10e9 + 1, 2 ** 32 + 7, 2 ** 40, 1e9),
  fc.integer({ min: 2 ** 32, max: 2 ** 45 }),
);

/** Runs commands against an allocator, checking the full state after every step. */
function runCommands(capacityBytes: number, commands: Command[]): void {
  const allocator = new Allocator(capacityBytes);
  const live = new Map<number, number>();
  checkState(allocator, live);
  for (const command of commands) {
    if (command.kind === "allocate") {
      // Contract: allocate(n) succeeds iff some free block (free blocks start aligned) holds n bytes.
      const fits = allocator.blocks().some((block) => block.free && block.sizeBytes >= command.sizeBytes);
      const offset = allocator.allocate(command.sizeBytes);
      expect(offset !== null).toBe(fits);
      if (offset !== null) {
        expect(live.has(offset)).toBe(false);
        live.set(offset, command.sizeBytes);
      }
    } else if (live.size > 0) {
      const offsets = [...live.keys()];
      const offset = offsets[command.pick % offsets.length] ?? -1;
      allocator.free(offset);
      live.delete(offset);
    }
    checkState(allocator, live);
  }
  for (const offset of [...live.keys()]) {
    allocator.free(offset);
    live.delete(offset);
    checkState(allocator, live);
  }
  expect(allocator.blocks()).toEqual([{ offset: 0, sizeBytes: capacityBytes, free: true }]);
  expect(allocator.freeBlockCount).toBe(1);
  expect(allocator.largestFreeBlockBytes).toBe(capacityBytes);
  // The whole arena is one block again: an exact-capacity allocation fits, twice in a row.
  expect(allocator.allocate(capacityBytes)).toBe(0);
  allocator.free(0);
  expect(allocator.allocate(capacityBytes)).toBe(0);
  allocator.checkInvariants();
}

describe("Allocator properties", () => {
  test("random allocate/free sequences keep every invariant", () => {
    fc.assert(
      fc.property(
        capacityArbitrary.chain((capacityBytes) =>
          fc.tuple(
            fc.constant(capacityBytes),
            fc.array(commandArbitrary(capacityBytes), { maxLength: 120, size: "max" }),
          ),
        ),
        ([capacityBytes, commands]) => runCommands(capacityBytes, commands),
      ),
      { numRuns: 300 },
    );
  });

  test("many small allocations in a huge (> 4 GiB) arena", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(10e9, 2 ** 33 + 13, 2 ** 44),
        fc.array(
          fc.oneof(
            fc
              .integer({ min: 0, max: 10_000 })
              .map((sizeBytes): Command => ({ kind: "allocate", sizeBytes })),
            fc.integer({ min: 0, max: 3e9 }).map((sizeBytes): Command => ({ kind: "allocate", sizeBytes })),
            fc.nat().map((pick): Command => ({ kind: "free", pick })),
          ),
          { maxLength: 200, size: "max" },
        ),
        (capacityBytes, commands) => runCommands(capacityBytes, commands),
      ),
      { numRuns: 50 },
    );
  });

  test("holes left by freeing every other block are reused by allocations that fit them", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 200 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 0, max: 63 }),
        (count, sizeBytes, tailBytes) => {
          const reservedBytes = roundUp(sizeBytes, ALIGN);
          const capacityBytes = count * reservedBytes + tailBytes;
          const allocator = new Allocator(capacityBytes);
          const offsets: number[] = [];
          for (let index = 0; index < count; index++) {
            const offset = allocator.allocate(sizeBytes);
            expect(offset).toBe(index * reservedBytes);
            offsets.push(offset ?? -1);
          }
          // Full (only the unaligned tail, if any, is left): one more block does not fit.
          expect(allocator.allocate(Math.max(tailBytes + 1, sizeBytes))).toBeNull();
          for (let index = 0; index < count; index += 2) allocator.free(offsets[index] ?? -1);
          allocator.checkInvariants();
          const holes = Math.ceil(count / 2);
          // With an odd count the last hole touches the unaligned tail and merges with it.
          expect(allocator.freeBlockCount).toBe(holes + (tailBytes > 0 && count % 2 === 0 ? 1 : 0));
          // Each hole is exactly reservedBytes: allocations of any size up to it must all succeed.
          const refill = new Set<number>();
          for (let index = 0; index < holes; index++) {
            const offset = allocator.allocate(Math.max(reservedBytes - (index % ALIGN), tailBytes + 1));
            expect(offset).not.toBeNull();
            expect(((offset ?? -1) / reservedBytes) % 2).toBe(0);
            refill.add(offset ?? -1);
          }
          expect(refill.size).toBe(holes);
          expect(allocator.usedBytes).toBe(count * reservedBytes);
          allocator.checkInvariants();
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("Allocator unit", () => {
  test("an exact-capacity allocation succeeds for an unaligned capacity, twice in a row", () => {
    const allocator = new Allocator(10_000);
    expect(allocator.allocate(10_000)).toBe(0);
    expect(allocator.usedBytes).toBe(10_000);
    expect(allocator.freeBytes).toBe(0);
    expect(allocator.blockSizeBytes(0)).toBe(10_000);
    expect(allocator.allocate(0)).toBeNull();
    allocator.free(0);
    expect(allocator.allocate(10_000)).toBe(0);
    allocator.checkInvariants();
  });

  test("the unaligned tail serves a request whose rounded size exceeds it but whose real size fits", () => {
    const allocator = new Allocator(10_000); // 156 * 64 = 9984, tail is 16 bytes past the last boundary
    expect(allocator.allocate(9920)).toBe(0); // 155 units
    expect(allocator.freeBytes).toBe(80);
    expect(allocator.allocate(81)).toBeNull();
    expect(allocator.allocate(80)).toBe(9920);
    expect(allocator.blockSizeBytes(9920)).toBe(80);
    expect(allocator.usedBytes).toBe(10_000);
    allocator.free(9920);
    expect(allocator.allocate(10)).toBe(9920);
    expect(allocator.blockSizeBytes(9920)).toBe(64);
    expect(allocator.allocate(16)).toBe(9984);
    expect(allocator.blockSizeBytes(9984)).toBe(16);
    expect(allocator.allocate(1)).toBeNull();
    allocator.checkInvariants();
  });

  test("capacity smaller than the alignment", () => {
    const allocator = new Allocator(10);
    expect(allocator.allocate(11)).toBeNull();
    expect(allocator.allocate(0)).toBe(0);
    expect(allocator.blockSizeBytes(0)).toBe(10);
    expect(allocator.allocate(0)).toBeNull();
    allocator.free(0);
    expect(allocator.allocate(10)).toBe(0);
    allocator.checkInvariants();
  });

  test("capacity 1e9 holding 5e8: 5e8 + 1 fails, 2e8 succeeds", () => {
    const allocator = new Allocator(1e9);
    expect(allocator.allocate(5e8)).toBe(0);
    expect(allocator.allocate(5e8 + 1)).toBeNull();
    expect(allocator.allocate(2e8)).toBe(5e8);
    expect(allocator.allocate(3e8)).toBe(7e8);
    expect(allocator.freeBytes).toBe(0);
    allocator.checkInvariants();
  });

  test("a block the rounded-up O(1) search skips is still found (request in its own size class)", () => {
    // 65 units lies in a class spanning [64, 66) units: the good-fit search looks from 66 units up.
    const allocator = new Allocator(65 * 64 + 64 * 1000);
    const hole = allocator.allocate(65 * 64);
    const rest = allocator.allocate(64 * 1000);
    expect([hole, rest]).toEqual([0, 65 * 64]);
    allocator.free(0);
    expect(allocator.largestFreeBlockBytes).toBe(65 * 64);
    expect(allocator.allocate(65 * 64)).toBe(0);
    allocator.checkInvariants();
  });

  test("allocate(0) reserves one alignment unit with a distinct offset", () => {
    const allocator = new Allocator(1024);
    expect(allocator.allocate(0)).toBe(0);
    expect(allocator.allocate(0)).toBe(64);
    expect(allocator.blockSizeBytes(64)).toBe(64);
    expect(allocator.usedBytes).toBe(128);
  });

  test("good fit: a small request takes the small hole, not the big free region", () => {
    const allocator = new Allocator(1 << 20);
    const a = allocator.allocate(4096);
    const b = allocator.allocate(64);
    const c = allocator.allocate(4096);
    expect([a, b, c]).toEqual([0, 4096, 4160]);
    allocator.free(b ?? -1); // 64-byte hole between a and c; a large free region follows c
    expect(allocator.allocate(60)).toBe(4096);
    allocator.free(a ?? -1); // 4096-byte hole at 0
    expect(allocator.allocate(4000)).toBe(0);
    allocator.checkInvariants();
  });

  test("freeing coalesces with both neighbours", () => {
    const allocator = new Allocator(64 * 10);
    const offsets = [0, 1, 2, 3, 4].map(() => allocator.allocate(64));
    expect(offsets).toEqual([0, 64, 128, 192, 256]);
    allocator.free(64);
    allocator.free(192);
    expect(allocator.freeBlockCount).toBe(3);
    allocator.free(128);
    expect(allocator.freeBlockCount).toBe(2);
    expect(allocator.blocks()).toEqual([
      { offset: 0, sizeBytes: 64, free: false },
      { offset: 64, sizeBytes: 192, free: true },
      { offset: 256, sizeBytes: 64, free: false },
      { offset: 320, sizeBytes: 320, free: true },
    ]);
    expect(allocator.largestFreeBlockBytes).toBe(320);
    allocator.checkInvariants();
  });

  test("programming errors throw", () => {
    const allocator = new Allocator(4096);
    const offset = allocator.allocate(100);
    expect(() => allocator.free(64)).toThrow();
    expect(() => allocator.free(1)).toThrow();
    expect(() => allocator.blockSizeBytes(64)).toThrow();
    allocator.free(offset ?? -1);
    expect(() => allocator.free(offset ?? -1)).toThrow(); // double free
    expect(() => allocator.allocate(-1)).toThrow();
    expect(() => allocator.allocate(1.5)).toThrow();
    expect(() => allocator.allocate(Number.NaN)).toThrow();
    expect(() => new Allocator(0)).toThrow();
    expect(() => new Allocator(1.5)).toThrow();
    expect(() => new Allocator(2 ** 53)).toThrow();
    expect(() => new Allocator(4096, 48)).toThrow();
    allocator.checkInvariants();
  });

  test("a custom power-of-two alignment is honoured", () => {
    const allocator = new Allocator(100_000, 4096);
    expect(allocator.allocate(1)).toBe(0);
    expect(allocator.allocate(1)).toBe(4096);
    expect(allocator.blockSizeBytes(4096)).toBe(4096);
    allocator.checkInvariants();
  });

  test("an allocation larger than 4 GiB in a 10e9 arena", () => {
    const allocator = new Allocator(10e9);
    expect(allocator.allocate(6e9)).toBe(0);
    expect(allocator.allocate(4e9 + 1)).toBeNull();
    expect(allocator.allocate(4e9)).toBe(6e9);
    allocator.free(0);
    expect(allocator.largestFreeBlockBytes).toBe(6e9);
    allocator.free(6e9);
    expect(allocator.blocks()).toEqual([{ offset: 0, sizeBytes: 10e9, free: true }]);
  });

  test("100k allocate/free pairs with 10k live blocks: every request fits and the accounting stays exact", () => {
    const liveTarget = 10_000;
    const allocator = new Allocator(1e9);
    const live: number[] = [];
    const reserved = new Map<number, number>(); // offset -> reserved bytes, to check usedBytes against
    let reservedBytes = 0;
    let seed = 12345;
    const random = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const allocate = (): number => {
      const sizeBytes = 1 + Math.floor(random() * 20_000);
      const offset = allocator.allocate(sizeBytes);
      expect(offset).not.toBeNull();
      expect(reserved.has(offset ?? -1)).toBe(false);
      reserved.set(offset ?? -1, roundUp(sizeBytes, ALIGN));
      reservedBytes += roundUp(sizeBytes, ALIGN);
      return offset ?? -1;
    };
    for (let index = 0; index < liveTarget; index++) live.push(allocate());
    for (let pair = 0; pair < 100_000; pair++) {
      const slot = Math.floor(random() * live.length);
      const freed = live[slot] ?? -1;
      allocator.free(freed);
      reservedBytes -= reserved.get(freed) ?? 0;
      reserved.delete(freed);
      live[slot] = allocate();
      expect(allocator.usedBytes).toBe(reservedBytes);
    }
    expect(allocator.allocationCount).toBe(liveTarget);
    allocator.checkInvariants();
    // the used blocks are exactly the live allocations, at their reserved sizes, and tile the arena
    const blocks = allocator.blocks();
    const used = blocks.filter((block) => !block.free);
    expect(used.map((block) => [block.offset, block.sizeBytes])).toEqual(
      [...reserved.entries()].sort(([a], [b]) => a - b),
    );
    expect(blocks.reduce((sum, block) => sum + block.sizeBytes, 0)).toBe(1e9);
    for (const offset of live) allocator.free(offset);
    expect(allocator.blocks()).toEqual([{ offset: 0, sizeBytes: 1e9, free: true }]);
  });
});
