/**
 * Arena allocator for the store's single shared-memory arena.
 *
 * Design: TLSF (two-level segregated fit, Masmano et al. 2004), with all bookkeeping in JS objects and
 * none inside the arena.
 *
 * - Every block (free or allocated) is a `Block` linked to its physical neighbours (`prevPhysical`,
 *   `nextPhysical`): the JS analogue of boundary tags. Freeing a block coalesces it with free neighbours
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

class Block {
  offset: number;
  sizeBytes: number;
  free: boolean;
  prevPhysical: Block | null = null;
  nextPhysical: Block | null = null;
  /** Links inside a size-class free list; null when allocated or when the block is the free tail. */
  prevFree: Block | null = null;
  nextFree: Block | null = null;

  constructor(offset: number, sizeBytes: number, free: boolean) {
    this.offset = offset;
    this.sizeBytes = sizeBytes;
    this.free = free;
  }
}

interface SizeClass {
  first: number;
  second: number;
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`allocator invariant: ${message}`);
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

export class Allocator {
  readonly capacityBytes: number;
  readonly alignmentBytes: number;

  /** Block at offset 0: start of the physical list. */
  private readonly firstBlock: Block;
  /** Allocated blocks by start offset. */
  private readonly allocated = new Map<number, Block>();
  /** Heads of the size-class free lists, indexed first * SECOND_LEVEL_COUNT + second. */
  private readonly freeListHeads: (Block | null)[];
  /** Bit f set iff first-level class f has a non-empty second-level class. Words: classes 0-31, 32-63. */
  private readonly firstLevelBitmap = new Uint32Array(2);
  /** Bit s of word f set iff free list (f, s) is non-empty. */
  private readonly secondLevelBitmaps = new Uint32Array(FIRST_LEVEL_COUNT);
  /** The last block when it is free and its size is not a multiple of the alignment (not in the table). */
  private freeTail: Block | null = null;

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
    this.freeListHeads = new Array<Block | null>(FIRST_LEVEL_COUNT * SECOND_LEVEL_COUNT).fill(null);
    this.firstBlock = new Block(0, capacityBytes, true);
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
    if (block === null) return null;
    assert(block.free && block.sizeBytes >= requestBytes, "chosen block must be free and large enough");

    this.removeFree(block);
    // Clipping only happens for the unaligned tail block: any other block is a whole number of units.
    const reservedBytes = Math.min(requestUnits * this.alignmentBytes, block.sizeBytes);
    const remainderBytes = block.sizeBytes - reservedBytes;
    if (remainderBytes > 0) {
      const remainder = new Block(block.offset + reservedBytes, remainderBytes, true);
      remainder.prevPhysical = block;
      remainder.nextPhysical = block.nextPhysical;
      if (block.nextPhysical !== null) {
        assert(!block.nextPhysical.free, "a free block's physical successor is allocated");
        block.nextPhysical.prevPhysical = remainder;
      }
      block.nextPhysical = remainder;
      block.sizeBytes = reservedBytes;
      this.insertFree(remainder);
    }
    block.free = false;
    this.allocated.set(block.offset, block);
    this.usedBytesValue += block.sizeBytes;
    assert(this.usedBytesValue <= this.capacityBytes, "usedBytes within capacity");
    assert(block.offset % this.alignmentBytes === 0, "allocated offset is aligned");
    return block.offset;
  }

  /** Frees the block starting at offset; throws if offset is not the start of an allocated block. */
  free(offset: number): void {
    const found = this.allocated.get(offset);
    if (found === undefined) {
      throw new Error(`free: offset ${offset} is not the start of an allocated block`);
    }
    let block = found;
    this.allocated.delete(offset);
    this.usedBytesValue -= block.sizeBytes;
    assert(this.usedBytesValue >= 0, "usedBytes non-negative");
    block.free = true;

    const previous = block.prevPhysical;
    if (previous?.free) {
      this.removeFree(previous);
      this.absorbNext(previous);
      block = previous;
    }
    const next = block.nextPhysical;
    if (next?.free) {
      this.removeFree(next);
      this.absorbNext(block);
    }
    this.insertFree(block);
  }

  /** Size reserved for the allocated block at offset (rounded up, clipped at capacityBytes). */
  blockSizeBytes(offset: number): number {
    const block = this.allocated.get(offset);
    if (block === undefined) {
      throw new Error(`blockSizeBytes: offset ${offset} is not the start of an allocated block`);
    }
    return block.sizeBytes;
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
    let largestBytes = this.freeTail === null ? 0 : this.freeTail.sizeBytes;
    let first = -1;
    if (this.firstLevelBitmap[1] !== 0) first = 32 + highestBit(this.firstLevelBitmap[1] ?? 0);
    else if (this.firstLevelBitmap[0] !== 0) first = highestBit(this.firstLevelBitmap[0] ?? 0);
    if (first >= 0) {
      const second = highestBit(this.secondLevelBitmaps[first] ?? 0);
      for (let block = this.listHead(first, second); block !== null; block = block.nextFree) {
        largestBytes = Math.max(largestBytes, block.sizeBytes);
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
    for (let block: Block | null = this.firstBlock; block !== null; block = block.nextPhysical) {
      result.push({ offset: block.offset, sizeBytes: block.sizeBytes, free: block.free });
    }
    return result;
  }

  /** Throws if any invariant is broken. O(blocks). */
  checkInvariants(): void {
    const alignment = this.alignmentBytes;
    let expectedOffset = 0;
    let usedBytes = 0;
    let allocatedCount = 0;
    const physicalFree = new Set<Block>();
    let previous: Block | null = null;
    assert(this.firstBlock.prevPhysical === null, "first block has no predecessor");
    for (let block: Block | null = this.firstBlock; block !== null; block = block.nextPhysical) {
      assert(block.prevPhysical === previous, `physical back link at offset ${block.offset}`);
      assert(
        block.offset === expectedOffset,
        `gap or overlap at offset ${block.offset} (expected ${expectedOffset})`,
      );
      assert(block.offset % alignment === 0, `block offset ${block.offset} is aligned`);
      assert(
        Number.isSafeInteger(block.sizeBytes) && block.sizeBytes > 0,
        `block size ${block.sizeBytes} > 0`,
      );
      const isLast = block.nextPhysical === null;
      assert(
        isLast || block.sizeBytes % alignment === 0,
        `non-tail block size ${block.sizeBytes} is aligned`,
      );
      if (block.free) {
        assert(previous === null || !previous.free, `adjacent free blocks at offset ${block.offset}`);
        physicalFree.add(block);
      } else {
        usedBytes += block.sizeBytes;
        allocatedCount += 1;
        assert(this.allocated.get(block.offset) === block, `allocated block ${block.offset} is in the map`);
        assert(block.prevFree === null && block.nextFree === null, "allocated block has no free links");
      }
      expectedOffset = block.offset + block.sizeBytes;
      previous = block;
    }
    assert(
      expectedOffset === this.capacityBytes,
      `blocks end at ${expectedOffset}, not ${this.capacityBytes}`,
    );
    assert(usedBytes === this.usedBytesValue, `usedBytes ${this.usedBytesValue} != sum ${usedBytes}`);
    assert(this.freeBytes === this.capacityBytes - usedBytes, "freeBytes exact");
    assert(allocatedCount === this.allocated.size, "allocation map matches blocks");
    assert(physicalFree.size === this.freeBlockCountValue, "freeBlockCount matches blocks");

    // The free index holds exactly the free blocks, each in its own class.
    let indexedCount = 0;
    if (this.freeTail !== null) {
      const tail = this.freeTail;
      assert(physicalFree.has(tail) && tail.nextPhysical === null, "free tail is the last block and free");
      assert(tail.sizeBytes % alignment !== 0, "free tail slot only holds an unaligned tail");
      assert(tail.prevFree === null && tail.nextFree === null, "free tail is in no list");
      indexedCount += 1;
    }
    for (let first = 0; first < FIRST_LEVEL_COUNT; first++) {
      const secondBitmap = this.secondLevelBitmaps[first] ?? 0;
      const firstBit = ((this.firstLevelBitmap[first >> 5] ?? 0) >>> (first & 31)) & 1;
      assert(firstBit === (secondBitmap !== 0 ? 1 : 0), `first-level bitmap bit ${first}`);
      for (let second = 0; second < SECOND_LEVEL_COUNT; second++) {
        const head = this.listHead(first, second);
        assert(
          ((secondBitmap >>> second) & 1) === (head !== null ? 1 : 0),
          `bitmap bit (${first}, ${second})`,
        );
        let previousFree: Block | null = null;
        for (let block = head; block !== null; block = block.nextFree) {
          assert(physicalFree.has(block), `indexed block ${block.offset} is a free block`);
          assert(block.prevFree === previousFree, `free list back link at ${block.offset}`);
          assert(block.sizeBytes % alignment === 0, "indexed free block is a whole number of units");
          const sizeClass = classOf(block.sizeBytes / alignment);
          assert(sizeClass.first === first && sizeClass.second === second, `block ${block.offset} class`);
          indexedCount += 1;
          assert(indexedCount <= physicalFree.size, "free lists are acyclic and hold no extra blocks");
          previousFree = block;
        }
      }
    }
    assert(indexedCount === physicalFree.size, "every free block is indexed exactly once");
  }

  private listHead(first: number, second: number): Block | null {
    return this.freeListHeads[first * SECOND_LEVEL_COUNT + second] ?? null;
  }

  /**
   * O(1) good-fit search, then the free tail, then (only if both fail) a scan of the request's own class,
   * which can hold blocks that fit but that the rounded-up search skips.
   */
  private findFreeBlock(requestBytes: number, requestUnits: number): Block | null {
    const goodFit = this.findClassAtLeast(classAtLeast(requestUnits));
    if (goodFit !== null) return goodFit;
    if (this.freeTail !== null && this.freeTail.sizeBytes >= requestBytes) return this.freeTail;
    const own = classOf(requestUnits);
    if (own.first >= FIRST_LEVEL_COUNT) return null;
    for (let block = this.listHead(own.first, own.second); block !== null; block = block.nextFree) {
      if (block.sizeBytes >= requestBytes) return block;
    }
    return null;
  }

  /** Head of the first non-empty list at class >= sizeClass, via the two bitmap levels. */
  private findClassAtLeast(sizeClass: SizeClass): Block | null {
    let first = sizeClass.first;
    if (first >= FIRST_LEVEL_COUNT) return null;
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
    if (found < 0) return null;
    const second = lowestBit(this.secondLevelBitmaps[found] ?? 0);
    return this.listHead(found, second);
  }

  /** Merges block.nextPhysical (already removed from the free index) into block. */
  private absorbNext(block: Block): void {
    const next = block.nextPhysical;
    assert(next !== null, "absorbed neighbour exists");
    assert(next.free, "absorbed neighbour is free");
    block.sizeBytes += next.sizeBytes;
    block.nextPhysical = next.nextPhysical;
    if (next.nextPhysical !== null) next.nextPhysical.prevPhysical = block;
    next.prevPhysical = null;
    next.nextPhysical = null;
  }

  private insertFree(block: Block): void {
    assert(block.free, "only free blocks are indexed");
    this.freeBlockCountValue += 1;
    if (block.sizeBytes % this.alignmentBytes !== 0) {
      assert(block.nextPhysical === null && this.freeTail === null, "only the tail block may be unaligned");
      this.freeTail = block;
      return;
    }
    const { first, second } = classOf(block.sizeBytes / this.alignmentBytes);
    assert(first < FIRST_LEVEL_COUNT, "size class in range");
    const index = first * SECOND_LEVEL_COUNT + second;
    const head = this.freeListHeads[index] ?? null;
    block.prevFree = null;
    block.nextFree = head;
    if (head !== null) head.prevFree = block;
    this.freeListHeads[index] = block;
    this.secondLevelBitmaps[first] = (this.secondLevelBitmaps[first] ?? 0) | (1 << second);
    this.firstLevelBitmap[first >> 5] = (this.firstLevelBitmap[first >> 5] ?? 0) | (1 << (first & 31));
  }

  /** Removes a free block from the index; its size must not have changed since insertFree. */
  private removeFree(block: Block): void {
    assert(block.free, "only free blocks are indexed");
    this.freeBlockCountValue -= 1;
    if (this.freeTail === block) {
      this.freeTail = null;
      return;
    }
    const { first, second } = classOf(block.sizeBytes / this.alignmentBytes);
    const index = first * SECOND_LEVEL_COUNT + second;
    if (block.prevFree !== null) {
      block.prevFree.nextFree = block.nextFree;
    } else {
      assert(this.freeListHeads[index] === block, "list head is the block without predecessor");
      this.freeListHeads[index] = block.nextFree;
    }
    if (block.nextFree !== null) block.nextFree.prevFree = block.prevFree;
    block.prevFree = null;
    block.nextFree = null;
    if (this.freeListHeads[index] === null) {
      const secondBitmap = (this.secondLevelBitmaps[first] ?? 0) & ~(1 << second);
      this.secondLevelBitmaps[first] = secondBitmap;
      if (secondBitmap === 0) {
        this.firstLevelBitmap[first >> 5] = (this.firstLevelBitmap[first >> 5] ?? 0) & ~(1 << (first & 31));
      }
    }
  }
}
