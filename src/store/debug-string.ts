import type { StoreCore } from "./store.ts";

/** A human-readable summary of the store, as Plasma's DebugString. */
export function debugString(core: StoreCore): string {
  const a = core.allocator;
  const t = core.objects;
  const c = core.counters;
  return [
    "========== plasma_store ==========",
    `capacity bytes: ${core.capacityBytes}`,
    `used bytes: ${a.usedBytes}`,
    `free bytes: ${a.freeBytes} (largest free block ${a.largestFreeBlockBytes})`,
    `objects: ${t.size} (${t.createdCount} being created, ${t.sealedCount} sealed)`,
    `bytes being created: ${t.createdBytes}`,
    `bytes sealed: ${t.sealedBytes}`,
    `evictable: ${core.policy.evictableCount} objects, ${core.policy.evictableBytes} bytes (policy ${core.policy.name})`,
    `clients: ${core.clients.size}`,
    `waiting gets: ${core.waitingGetCount}, waiting creates: ${core.waitingCreateCount}`,
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
