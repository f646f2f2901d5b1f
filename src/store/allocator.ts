/**
 * Arena allocator for the store's single shared-memory arena.
 *
 * Design: TLSF (two-level segregated fit, Masmano et al. 2004), with all bookkeeping in JS objects and
 * none inside the arena.
 *
 * - Every block (free or allocated) is a block record linked to its physical neighbours (`prevPhysical`,
 *   `nextPhysical`): the JS analogue of boundary tags. Records are a struct of typed arrays indexed by a
 *   block number (reused through a free list), and allocated blocks are found by offset through the
 *   store's linear-probing hash index (open-addressing-index.ts) of block numbers: no JS object per block, so a million resident objects
 *   cost about 45 bytes each here and add nothing for the garbage collector to trace. Freeing a block coalesces it with free neighbours
 *   in O(1), so the arena never holds two adjacent free blocks.
 * - Free blocks whose size is a multiple of the alignment are indexed by size class in a two-level table:
 *   the first level is the power of two of the size (in alignment units), the second level splits each
 *   power of two into 32 linear sub-ranges (sizes under 32 units get one exact class each). Two levels of
 *   bitmaps find a non-empty class in O(1) (bounded by the fixed number of first-level classes, 50).
 *
 * Why TLSF rather than a size-ordered free tree: allocate and free are O(1) with small constants and no
 * rebalancing, which matters for a long-running store doing one allocation per object create. TLSF is
 * good-fit: a request is rounded up to the next class boundary so that any block of the chosen class
 * fits, which wastes at most 1/32 (about 3%) of the block compared with best-fit when it has to split a
 * larger block, while it still picks from the smallest class that is guaranteed to fit (never first-fit
 * across everything). TLSF's fragmentation on real workloads is close to best-fit (Masmano et al.
 * measured it among the lowest of the allocators compared), and it coalesces eagerly, so a fully freed
 * arena is always exactly one block.
 *
 * Completeness fallback (the observable contract is exact): `allocate(n)` succeeds iff some free block
 * has at least `n` bytes, i.e. iff a free, aligned region of `n` bytes exists inside [0, capacityBytes).
 * Plain TLSF can miss a block that lives in the request's own class (the rounded-up search skips that
 * class); when the O(1) search fails, the request's own class list is scanned, then the tail block is
 * tried. That scan only happens when nothing larger is free, i.e. when the arena is nearly full for that
 * size; every other path is O(1).
 *
 * Rounding rule:
 * - Offsets are multiples of `alignmentBytes` (default 64). A request reserves `roundUp(max(n, 1), 64)`
 *   bytes: `allocate(0)` reserves a minimal block (one alignment unit) so every allocation has its own
 *   distinct offset.
 * - `capacityBytes` need not be a multiple of the alignment. Blocks tile [0, capacityBytes) exactly, so
 *   the last ("tail") block may end at an unaligned `capacityBytes`. A reservation taken from that tail
 *   block is clipped at `capacityBytes`: with capacity 10000, `allocate(10000)` returns 0 and reserves
 *   exactly 10000 bytes. Hence `usedBytes` never exceeds `capacityBytes`, and every block except
 *   possibly the tail has a size that is a multiple of the alignment.
 * - An unaligned free tail block is not put in the size-class table (its size is not a whole number of
 *   units); it is kept in a dedicated slot and tried after the O(1) search.
 *
 * Limits: capacityBytes in [1, 2^52] and alignmentBytes a power of two in [1, 2^20], so every offset,
 * size and sum stays an exact JS integer (< 2^53).
 */

import { assert } from "./assert.ts";
import { grown } from "./grow.ts";
import { NOT_FOUND, OpenAddressingIndex } from "./open-addressing-index.ts";

export const ALLOCATION_ALIGNMENT_BYTES = 64;
/** Largest arena the allocator manages: keeps offset + size arithmetic exact in doubles. */
export const ALLOCATOR_CAPACITY_BYTES_MAX = 2 ** 52;
export const ALLOCATOR_ALIGNMENT_BYTES_MAX = 2 ** 20;

export interface AllocatorBlock {
  offset: number;
  sizeBytes: number;
  free: boolean;
}

/** Second-level classes per first-level class: 2^5 = 32. */
const SECOND_LEVEL_LOG2 = 5;
const SECOND_LEVEL_COUNT = 1 << SECOND_LEVEL_LOG2;
/**
 * First-level classes: class 0 holds the exact small sizes [0, 32) units, class f >= 1 holds
 * [2^(f+4), 2^(f+5)) units. The largest unit count is 2^52 (capacity max with alignment 1), whose log2 is
 * 52, i.e. class 48; a rounded-up search may ask for class 49. 50 classes cover both.
 */
const FIRST_LEVEL_COUNT = 50;
const TWO_POW_32 = 2 ** 32;

interface SizeClass {
  first: number;
  second: number;
}

function isPowerOfTwo(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 1 && 2 ** Math.round(Math.log2(value)) === value;
}

/** floor(log2(value)) for a safe integer value >= 1, exact beyond 32 bits. */
function floorLog2(value: number): number {
  const high = Math.floor(value / TWO_POW_32);
  if (high > 0) return 63 - Math.clz32(high);
  return 31 - Math.clz32(value);
}

/** Index of the lowest set bit of a non-zero 32-bit word. */
function lowestBit(word: number): number {
  return 31 - Math.clz32(word & -word);
}

/** Index of the highest set bit of a non-zero 32-bit word. */
function highestBit(word: number): number {
  return 31 - Math.clz32(word);
}

/** Size class of a free block of `units` alignment units (TLSF mapping_insert). */
function classOf(units: number): SizeClass {
  if (units < SECOND_LEVEL_COUNT) return { first: 0, second: units };
  const log2 = floorLog2(units);
  return {
    first: log2 - SECOND_LEVEL_LOG2 + 1,
    second: Math.floor(units / 2 ** (log2 - SECOND_LEVEL_LOG2)) - SECOND_LEVEL_COUNT,
  };
}

/** Smallest class whose every block holds at least `units` units (TLSF mapping_search). */
function classAtLeast(units: number): SizeClass {
  if (units < SECOND_LEVEL_COUNT) return { first: 0, second: units };
  const roundUpUnits = 2 ** (floorLog2(units) - SECOND_LEVEL_LOG2) - 1;
  return classOf(units + roundUpUnits);
}

const NIL = -1;
const INITIAL_BLOCKS = 1024;

/** 32-bit hash of an offset in alignment units (exact for offsets up to 2^52). */
function hashUnits(units: number): number {
  let h = (units >>> 0) ^ Math.imul(Math.floor(units / TWO_POW_32), 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class Allocator {
  readonly capacityBytes: number;
  readonly alignmentBytes: number;

  /** Block at offset 0: start of the physical list (always block 0: it is never absorbed). */
  private readonly firstBlock: number;
  // Block records, indexed by block number.
  private blockOffset = new Float64Array(0);
  private blockSize = new Float64Array(0);
  private blockFree = new Uint8Array(0);
  private prevPhysical = new Int32Array(0);
  private nextPhysical = new Int32Array(0);
  /** Links inside a size-class free list; NIL when allocated or when the block is the free tail. */
  private prevFree = new Int32Array(0);
  private nextFree = new Int32Array(0);
  private blockCapacity = 0;
  /** Block numbers ever used; unused records are chained through nextPhysical from recycledHead. */
  private blockHighWater = 0;
  private recycledHead = NIL;
  private recycledCount = 0;
  /** Allocated blocks by start offset. */
  private readonly allocated = new OpenAddressingIndex<number>(
    {
      hashOfValue: (block) => this.hashOfOffset(this.blockOffset[block] as number),
      hasKey: (block, offset) => this.blockOffset[block] === offset,
    },
    INITIAL_BLOCKS * 2,
  );
  /** Heads of the size-class free lists, indexed first * SECOND_LEVEL_COUNT + second. */
  private readonly freeListHeads: Int32Array;
  /** Bit f set iff first-level class f has a non-empty second-level class. Words: classes 0-31, 32-63. */
  private readonly firstLevelBitmap = new Uint32Array(2);
  /** Bit s of word f set iff free list (f, s) is non-empty. */
  private readonly secondLevelBitmaps = new Uint32Array(FIRST_LEVEL_COUNT);
  /** The last block when it is free and its size is not a multiple of the alignment (not in the table). */
  private freeTail = NIL;

  private usedBytesValue = 0;
  private freeBlockCountValue = 0;

  constructor(capacityBytes: number, alignmentBytes: number = ALLOCATION_ALIGNMENT_BYTES) {
    if (
      !Number.isSafeInteger(capacityBytes) ||
      capacityBytes < 1 ||
      capacityBytes > ALLOCATOR_CAPACITY_BYTES_MAX
    ) {
      throw new RangeError(
        `capacityBytes must be an integer in [1, ${ALLOCATOR_CAPACITY_BYTES_MAX}], got ${capacityBytes}`,
      );
    }
    if (!isPowerOfTwo(alignmentBytes) || alignmentBytes > ALLOCATOR_ALIGNMENT_BYTES_MAX) {
      throw new RangeError(
        `alignmentBytes must be a power of two in [1, ${ALLOCATOR_ALIGNMENT_BYTES_MAX}], got ${alignmentBytes}`,
      );
    }
    this.capacityBytes = capacityBytes;
    this.alignmentBytes = alignmentBytes;
    this.freeListHeads = new Int32Array(FIRST_LEVEL_COUNT * SECOND_LEVEL_COUNT).fill(NIL);
    this.growBlocks(INITIAL_BLOCKS);
    this.firstBlock = this.newBlock(0, capacityBytes, true);
    this.insertFree(this.firstBlock);
  }

  /**
   * Returns the aligned offset of a new block of at least sizeBytes, or null if no free block fits.
   * sizeBytes 0 reserves a minimal block (one alignment unit, or what is left of the tail block).
   * Throws on a negative or non-integer size (programming error).
   */
  allocate(sizeBytes: number): number | null {
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0) {
      throw new RangeError(`allocate: sizeBytes must be a non-negative integer, got ${sizeBytes}`);
    }
    if (sizeBytes > this.capacityBytes) return null;
    const requestBytes = Math.max(sizeBytes, 1);
    const requestUnits = Math.ceil(requestBytes / this.alignmentBytes);

    const block = this.findFreeBlock(requestBytes, requestUnits);
    if (block === NIL) return null;
    const blockBytes = this.blockSize[block] as number;
    assert(
      this.blockFree[block] === 1 && blockBytes >= requestBytes,
      "chosen block must be free and large enough",
    );

    this.removeFree(block);
    // Clipping only happens for the unaligned tail block: any other block is a whole number of units.
    const reservedBytes = Math.min(requestUnits * this.alignmentBytes, blockBytes);
    const remainderBytes = blockBytes - reservedBytes;
    const offset = this.blockOffset[block] as number;
    if (remainderBytes > 0) {
      const remainder = this.newBlock(offset + reservedBytes, remainderBytes, true);
      const next = this.nextPhysical[block] as number;
      this.prevPhysical[remainder] = block;
      this.nextPhysical[remainder] = next;
      if (next !== NIL) {
        assert(this.blockFree[next] === 0, "a free block's physical successor is allocated");
        this.prevPhysical[next] = remainder;
      }
      this.nextPhysical[block] = remainder;
      this.blockSize[block] = reservedBytes;
      this.insertFree(remainder);
    }
    this.blockFree[block] = 0;
    this.indexAllocated(block);
    this.usedBytesValue += this.blockSize[block] as number;
    assert(offset % this.alignmentBytes === 0, "allocated offset is aligned");
    this.assertAccounting();
    return offset;
  }

  /** Frees the block starting at offset; throws if offset is not the start of an allocated block. */
  free(offset: number): void {
    const found = this.findAllocated(offset);
    if (found === NIL) {
      throw new Error(`free: offset ${offset} is not the start of an allocated block`);
    }
    let block = found;
    this.unindexAllocated(block);
    this.usedBytesValue -= this.blockSize[block] as number;
    this.blockFree[block] = 1;

    const previous = this.prevPhysical[block] as number;
    if (previous !== NIL && this.blockFree[previous] === 1) {
      this.removeFree(previous);
      this.absorbNext(previous);
      block = previous;
    }
    const next = this.nextPhysical[block] as number;
    if (next !== NIL && this.blockFree[next] === 1) {
      this.removeFree(next);
      this.absorbNext(block);
    }
    this.insertFree(block);
    const before = this.prevPhysical[block] as number;
    const after = this.nextPhysical[block] as number;
    assert(
      (before === NIL || this.blockFree[before] === 0) && (after === NIL || this.blockFree[after] === 0),
      "a freed block is coalesced with its free neighbours",
    );
    this.assertAccounting();
  }

  /**
   * O(1) checks after every allocate and free: used bytes within the arena, some free block exactly when
   * some byte is free, and every block record allocated, free or recycled.
   */
  private assertAccounting(): void {
    const usedBytes = this.usedBytesValue;
    assert(usedBytes >= 0 && usedBytes <= this.capacityBytes, "usedBytes within capacity");
    assert(
      (this.freeBlockCountValue === 0) === (usedBytes === this.capacityBytes),
      "a free block exists iff a byte is free",
    );
    assert(
      this.allocated.size + this.freeBlockCountValue + this.recycledCount === this.blockHighWater,
      "every block record is allocated, free or recycled",
    );
  }

  /** Size reserved for the allocated block at offset (rounded up, clipped at capacityBytes). */
  blockSizeBytes(offset: number): number {
    const block = this.findAllocated(offset);
    if (block === NIL) {
      throw new Error(`blockSizeBytes: offset ${offset} is not the start of an allocated block`);
    }
    return this.blockSize[block] as number;
  }

  get usedBytes(): number {
    return this.usedBytesValue;
  }

  get freeBytes(): number {
    return this.capacityBytes - this.usedBytesValue;
  }

  /**
   * Size of the largest free block. The largest block lives in the highest non-empty class (or is the
   * free tail), so this scans one class list: O(1) for exact small classes, O(list length) otherwise.
   */
  get largestFreeBlockBytes(): number {
    let largestBytes = this.freeTail === NIL ? 0 : (this.blockSize[this.freeTail] as number);
    let first = -1;
    if (this.firstLevelBitmap[1] !== 0) first = 32 + highestBit(this.firstLevelBitmap[1] ?? 0);
    else if (this.firstLevelBitmap[0] !== 0) first = highestBit(this.firstLevelBitmap[0] ?? 0);
    if (first >= 0) {
      const second = highestBit(this.secondLevelBitmaps[first] ?? 0);
      for (let block = this.listHead(first, second); block !== NIL; block = this.nextFree[block] as number) {
        largestBytes = Math.max(largestBytes, this.blockSize[block] as number);
      }
    }
    return largestBytes;
  }

  get allocationCount(): number {
    return this.allocated.size;
  }

  get freeBlockCount(): number {
    return this.freeBlockCountValue;
  }

  /** All blocks in address order. O(blocks). */
  blocks(): AllocatorBlock[] {
    const result: AllocatorBlock[] = [];
    for (let block = this.firstBlock; block !== NIL; block = this.nextPhysical[block] as number) {
      result.push({
        offset: this.blockOffset[block] as number,
        sizeBytes: this.blockSize[block] as number,
        free: this.blockFree[block] === 1,
      });
    }
    return result;
  }

  /** Throws if any invariant is broken. O(blocks). */
  checkInvariants(): void {
    const { live, physicalFree } = this.checkPhysicalList();
    this.allocated.checkInvariants();
    this.checkRecycledList(live);
    assert(physicalFree.size === this.freeBlockCountValue, "freeBlockCount matches blocks");
    this.checkFreeIndex(physicalFree);
  }

  /** Blocks tile the arena in order, aligned, with exact used-bytes accounting; returns what it saw. */
  private checkPhysicalList(): { live: number; physicalFree: Set<number> } {
    const alignment = this.alignmentBytes;
    let expectedOffset = 0;
    let usedBytes = 0;
    let allocatedCount = 0;
    const physicalFree = new Set<number>();
    let previous = NIL;
    let live = 0;
    assert(this.prevPhysical[this.firstBlock] === NIL, "first block has no predecessor");
    for (let block = this.firstBlock; block !== NIL; block = this.nextPhysical[block] as number) {
      live += 1;
      assert(live <= this.blockHighWater, "the physical list is acyclic");
      const offset = this.blockOffset[block] as number;
      const sizeBytes = this.blockSize[block] as number;
      assert(this.prevPhysical[block] === previous, `physical back link at offset ${offset}`);
      assert(offset === expectedOffset, `gap or overlap at offset ${offset} (expected ${expectedOffset})`);
      assert(offset % alignment === 0, `block offset ${offset} is aligned`);
      assert(Number.isSafeInteger(sizeBytes) && sizeBytes > 0, `block size ${sizeBytes} > 0`);
      const isLast = this.nextPhysical[block] === NIL;
      assert(isLast || sizeBytes % alignment === 0, `non-tail block size ${sizeBytes} is aligned`);
      if (this.blockFree[block] === 1) {
        assert(
          previous === NIL || this.blockFree[previous] === 0,
          `adjacent free blocks at offset ${offset}`,
        );
        physicalFree.add(block);
      } else {
        usedBytes += sizeBytes;
        allocatedCount += 1;
        assert(this.findAllocated(offset) === block, `allocated block ${offset} is in the index`);
        assert(
          this.prevFree[block] === NIL && this.nextFree[block] === NIL,
          "allocated block has no free links",
        );
      }
      expectedOffset = offset + sizeBytes;
      previous = block;
    }
    assert(
      expectedOffset === this.capacityBytes,
      `blocks end at ${expectedOffset}, not ${this.capacityBytes}`,
    );
    assert(usedBytes === this.usedBytesValue, `usedBytes ${this.usedBytesValue} != sum ${usedBytes}`);
    assert(this.freeBytes === this.capacityBytes - usedBytes, "freeBytes exact");
    assert(allocatedCount === this.allocated.size, "the offset index holds exactly the allocated blocks");
    return { live, physicalFree };
  }

  /** Every block record is either live (in the physical list) or on the recycled list. */
  private checkRecycledList(live: number): void {
    let recycled = 0;
    for (let block = this.recycledHead; block !== NIL; block = this.nextPhysical[block] as number) {
      recycled += 1;
      assert(recycled <= this.blockHighWater, "the recycled list is acyclic");
    }
    assert(live + recycled === this.blockHighWater, "every block record is live or recycled");
    assert(recycled === this.recycledCount, "recycled count matches the recycled list");
  }

  /** The free index holds exactly the free blocks, each in its own class. */
  private checkFreeIndex(physicalFree: ReadonlySet<number>): void {
    let indexedCount = 0;
    if (this.freeTail !== NIL) {
      const tail = this.freeTail;
      assert(
        physicalFree.has(tail) && this.nextPhysical[tail] === NIL,
        "free tail is the last block and free",
      );
      assert(
        (this.blockSize[tail] as number) % this.alignmentBytes !== 0,
        "free tail slot only holds an unaligned tail",
      );
      assert(this.prevFree[tail] === NIL && this.nextFree[tail] === NIL, "free tail is in no list");
      indexedCount += 1;
    }
    for (let first = 0; first < FIRST_LEVEL_COUNT; first++) {
      const secondBitmap = this.secondLevelBitmaps[first] ?? 0;
      const firstBit = ((this.firstLevelBitmap[first >> 5] ?? 0) >>> (first & 31)) & 1;
      assert(firstBit === (secondBitmap !== 0 ? 1 : 0), `first-level bitmap bit ${first}`);
      for (let second = 0; second < SECOND_LEVEL_COUNT; second++) {
        indexedCount += this.checkFreeList(first, second, secondBitmap, physicalFree);
        assert(indexedCount <= physicalFree.size, "free lists are acyclic and hold no extra blocks");
      }
    }
    assert(indexedCount === physicalFree.size, "every free block is indexed exactly once");
  }

  /** One segregated free list: linked both ways, its bitmap bit set iff non-empty, blocks of its class. */
  private checkFreeList(
    first: number,
    second: number,
    secondBitmap: number,
    physicalFree: ReadonlySet<number>,
  ): number {
    const head = this.listHead(first, second);
    assert(((secondBitmap >>> second) & 1) === (head !== NIL ? 1 : 0), `bitmap bit (${first}, ${second})`);
    let count = 0;
    let previousFree = NIL;
    for (let block = head; block !== NIL; block = this.nextFree[block] as number) {
      const offset = this.blockOffset[block] as number;
      const sizeBytes = this.blockSize[block] as number;
      assert(physicalFree.has(block), `indexed block ${offset} is a free block`);
      assert(this.prevFree[block] === previousFree, `free list back link at ${offset}`);
      assert(sizeBytes % this.alignmentBytes === 0, "indexed free block is a whole number of units");
      const sizeClass = classOf(sizeBytes / this.alignmentBytes);
      assert(sizeClass.first === first && sizeClass.second === second, `block ${offset} class`);
      count += 1;
      assert(count <= physicalFree.size, "free lists are acyclic and hold no extra blocks");
      previousFree = block;
    }
    return count;
  }

  private listHead(first: number, second: number): number {
    return this.freeListHeads[first * SECOND_LEVEL_COUNT + second] as number;
  }

  /**
   * O(1) good-fit search, then the free tail, then (only if both fail) a scan of the request's own class,
   * which can hold blocks that fit but that the rounded-up search skips.
   */
  private findFreeBlock(requestBytes: number, requestUnits: number): number {
    const goodFit = this.findClassAtLeast(classAtLeast(requestUnits));
    if (goodFit !== NIL) return goodFit;
    if (this.freeTail !== NIL && (this.blockSize[this.freeTail] as number) >= requestBytes)
      return this.freeTail;
    const own = classOf(requestUnits);
    if (own.first >= FIRST_LEVEL_COUNT) return NIL;
    for (
      let block = this.listHead(own.first, own.second);
      block !== NIL;
      block = this.nextFree[block] as number
    ) {
      if ((this.blockSize[block] as number) >= requestBytes) return block;
    }
    return NIL;
  }

  /** Head of the first non-empty list at class >= sizeClass, via the two bitmap levels. */
  private findClassAtLeast(sizeClass: SizeClass): number {
    let first = sizeClass.first;
    if (first >= FIRST_LEVEL_COUNT) return NIL;
    // Second-level classes >= sizeClass.second within the same first-level class.
    const sameFirst = (this.secondLevelBitmaps[first] ?? 0) & (~0 << sizeClass.second);
    if (sameFirst !== 0) return this.listHead(first, lowestBit(sameFirst));
    // Otherwise the lowest non-empty first-level class above it.
    first += 1;
    let found = -1;
    if (first < 32) {
      const word = (this.firstLevelBitmap[0] ?? 0) & (~0 << first);
      if (word !== 0) found = lowestBit(word);
    }
    if (found < 0) {
      const word = (this.firstLevelBitmap[1] ?? 0) & (first <= 32 ? ~0 : ~0 << (first - 32));
      if (word !== 0) found = 32 + lowestBit(word);
    }
    if (found < 0) return NIL;
    const second = lowestBit(this.secondLevelBitmaps[found] ?? 0);
    return this.listHead(found, second);
  }

  /** Merges block's physical successor (already removed from the free index) into block. */
  private absorbNext(block: number): void {
    const next = this.nextPhysical[block] as number;
    assert(next !== NIL, "absorbed neighbour exists");
    assert(this.blockFree[next] === 1, "absorbed neighbour is free");
    this.blockSize[block] = (this.blockSize[block] as number) + (this.blockSize[next] as number);
    const after = this.nextPhysical[next] as number;
    this.nextPhysical[block] = after;
    if (after !== NIL) this.prevPhysical[after] = block;
    this.recycleBlock(next);
  }

  private insertFree(block: number): void {
    assert(this.blockFree[block] === 1, "only free blocks are indexed");
    this.freeBlockCountValue += 1;
    const sizeBytes = this.blockSize[block] as number;
    if (sizeBytes % this.alignmentBytes !== 0) {
      assert(
        this.nextPhysical[block] === NIL && this.freeTail === NIL,
        "only the tail block may be unaligned",
      );
      this.freeTail = block;
      return;
    }
    const { first, second } = classOf(sizeBytes / this.alignmentBytes);
    assert(first < FIRST_LEVEL_COUNT, "size class in range");
    const index = first * SECOND_LEVEL_COUNT + second;
    const head = this.freeListHeads[index] as number;
    this.prevFree[block] = NIL;
    this.nextFree[block] = head;
    if (head !== NIL) this.prevFree[head] = block;
    this.freeListHeads[index] = block;
    this.secondLevelBitmaps[first] = (this.secondLevelBitmaps[first] ?? 0) | (1 << second);
    this.firstLevelBitmap[first >> 5] = (this.firstLevelBitmap[first >> 5] ?? 0) | (1 << (first & 31));
  }

  /** Removes a free block from the index; its size must not have changed since insertFree. */
  private removeFree(block: number): void {
    assert(this.blockFree[block] === 1, "only free blocks are indexed");
    this.freeBlockCountValue -= 1;
    if (this.freeTail === block) {
      this.freeTail = NIL;
      return;
    }
    const { first, second } = classOf((this.blockSize[block] as number) / this.alignmentBytes);
    const index = first * SECOND_LEVEL_COUNT + second;
    const prev = this.prevFree[block] as number;
    const next = this.nextFree[block] as number;
    if (prev !== NIL) {
      this.nextFree[prev] = next;
    } else {
      assert(this.freeListHeads[index] === block, "list head is the block without predecessor");
      this.freeListHeads[index] = next;
    }
    if (next !== NIL) this.prevFree[next] = prev;
    this.prevFree[block] = NIL;
    this.nextFree[block] = NIL;
    if (this.freeListHeads[index] === NIL) {
      const secondBitmap = (this.secondLevelBitmaps[first] ?? 0) & ~(1 << second);
      this.secondLevelBitmaps[first] = secondBitmap;
      if (secondBitmap === 0) {
        this.firstLevelBitmap[first >> 5] = (this.firstLevelBitmap[first >> 5] ?? 0) & ~(1 << (first & 31));
      }
    }
  }

  // ------------------------------------------------------------ block records and the offset index

  private newBlock(offset: number, sizeBytes: number, free: boolean): number {
    let block = this.recycledHead;
    if (block !== NIL) {
      this.recycledHead = this.nextPhysical[block] as number;
      this.recycledCount -= 1;
    } else {
      if (this.blockHighWater === this.blockCapacity) this.growBlocks(this.blockCapacity * 2);
      block = this.blockHighWater++;
    }
    this.blockOffset[block] = offset;
    this.blockSize[block] = sizeBytes;
    this.blockFree[block] = free ? 1 : 0;
    this.prevPhysical[block] = NIL;
    this.nextPhysical[block] = NIL;
    this.prevFree[block] = NIL;
    this.nextFree[block] = NIL;
    return block;
  }

  private recycleBlock(block: number): void {
    this.blockSize[block] = 0;
    this.blockFree[block] = 0;
    this.prevPhysical[block] = NIL;
    this.nextPhysical[block] = this.recycledHead;
    this.recycledHead = block;
    this.recycledCount += 1;
  }

  private growBlocks(capacity: number): void {
    this.blockOffset = grown(this.blockOffset, capacity);
    this.blockSize = grown(this.blockSize, capacity);
    this.blockFree = grown(this.blockFree, capacity);
    this.prevPhysical = grown(this.prevPhysical, capacity);
    this.nextPhysical = grown(this.nextPhysical, capacity);
    this.prevFree = grown(this.prevFree, capacity);
    this.nextFree = grown(this.nextFree, capacity);
    this.blockCapacity = capacity;
  }

  private hashOfOffset(offset: number): number {
    return hashUnits(offset / this.alignmentBytes);
  }

  /** The allocated block starting at offset, NIL if none. */
  private findAllocated(offset: number): number {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset % this.alignmentBytes !== 0) return NIL;
    const block = this.allocated.find(offset, this.hashOfOffset(offset));
    return block === NOT_FOUND ? NIL : block;
  }

  private indexAllocated(block: number): void {
    this.allocated.insert(block);
  }

  private unindexAllocated(block: number): void {
    this.allocated.remove(block);
  }
}
