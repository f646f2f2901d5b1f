import type { StoreCore } from "./store.ts";

/** A human-readable summary of the store, as Plasma's DebugString. */
export function debugString(core: StoreCore): string {
  const s = core.stats();
  const c = core.counters;
  return [
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
    `invariants: ${invariantsOf(core)}`,
  ].join("\n");
}

/** "ok", or what is broken: allocator accounting, overlapping blocks, references, eviction bookkeeping. */
function invariantsOf(core: StoreCore): string {
  try {
    core.checkInvariants();
    return "ok";
  } catch (error) {
    return `BROKEN: ${(error as Error).message}`;
  }
}
