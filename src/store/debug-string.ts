import type { StoreCore } from "./store.ts";

/**
 * Objects up to which debugString runs the store's full invariant check. The check walks every object and
 * every allocator block (about 1.2 µs an object here), and it runs on the event loop, so its cost is
 * capped: 4096 objects take about 5 ms. Over the cap, the line says the check was skipped and why; the
 * rest of the summary is counters and costs the same for any number of objects.
 */
export const DEBUG_STRING_CHECK_MAX_OBJECTS = 4096;

/** What the socket edge adds about hashing (see HashService). */
export interface HashFigures {
  /** Hashes computed off the event loop since start (one per object, however many asked). */
  readonly computed: number;
  /** Hash requests answered from the per-object cache. */
  readonly cached: number;
  /** Hash computations running now. */
  readonly running: number;
}

/** A human-readable summary of the store, as Plasma's DebugString; its cost does not grow with the store. */
export function debugString(core: StoreCore, hashes?: HashFigures): string {
  const s = core.stats();
  const c = core.counters;
  const lines = [
    "========== plasma_store ==========",
    `capacity bytes: ${s.capacityBytes}`,
    `used bytes: ${s.usedBytes}`,
    `free bytes: ${s.freeBytes} (largest free block ${s.largestFreeBlockBytes})`,
    `objects: ${s.objectCount} (${s.createdCount} being created, ${s.sealedCount} sealed)`,
    `bytes being created: ${s.createdBytes}`,
    `bytes sealed: ${s.sealedBytes}`,
    `evictable: ${s.evictableCount} objects, ${s.evictableBytes} bytes (policy ${s.evictionPolicy})`,
    `clients: ${s.clientCount}`,
    `waiting gets: ${s.waitingGetCount}, waiting creates: ${s.waitingCreateCount}`,
    `creates ${c.creates}, seals ${c.seals}, aborts ${c.aborts}, releases ${c.releases}, deletes ${c.deletes}`,
    `gets: ${c.getHits} hits, ${c.getMisses} misses, ${c.getTimeouts} timeouts`,
    `evictions: ${c.evictions} (${c.evictedBytes} bytes), store-full errors: ${c.storeFullErrors}`,
  ];
  if (hashes !== undefined) {
    lines.push(
      `hashes: ${hashes.computed} computed off the event loop, ${hashes.cached} from cache, ${hashes.running} running`,
    );
  }
  lines.push(`invariants: ${invariantsOf(core, s.objectCount)}`);
  return lines.join("\n");
}

/**
 * "ok" (the full check passed just now), "BROKEN: …" (what is broken: allocator accounting, overlapping
 * blocks, references, eviction bookkeeping), or "not checked (…)" when the store holds more objects than
 * DEBUG_STRING_CHECK_MAX_OBJECTS.
 */
function invariantsOf(core: StoreCore, objectCount: number): string {
  if (objectCount > DEBUG_STRING_CHECK_MAX_OBJECTS) {
    return `not checked (${objectCount} objects, over the ${DEBUG_STRING_CHECK_MAX_OBJECTS} a debugString checks without stalling other clients)`;
  }
  try {
    core.checkInvariants();
    return "ok";
  } catch (error) {
    return `BROKEN: ${(error as Error).message}`;
  }
}
