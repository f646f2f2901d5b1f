import type { EvictionPolicyName } from "./eviction/policy.ts";

/** Counters since start, kept by the store core and read by the admin plane. */
export interface StoreCounters {
  creates: number;
  seals: number;
  aborts: number;
  getHits: number;
  getMisses: number;
  getTimeouts: number;
  releases: number;
  deletes: number;
  evictions: number;
  evictedBytes: number;
  storeFullErrors: number;
}

export function zeroCounters(): StoreCounters {
  return {
    creates: 0,
    seals: 0,
    aborts: 0,
    getHits: 0,
    getMisses: 0,
    getTimeouts: 0,
    releases: 0,
    deletes: 0,
    evictions: 0,
    evictedBytes: 0,
    storeFullErrors: 0,
  };
}

/** The store's state now, as StoreCore.stats() reports it: a snapshot, not a live view. */
export interface StoreStats {
  capacityBytes: number;
  usedBytes: number;
  freeBytes: number;
  largestFreeBlockBytes: number;
  /** Objects in the store, being created or sealed. */
  objectCount: number;
  createdCount: number;
  /** Bytes (data and metadata) of objects being created. */
  createdBytes: number;
  sealedCount: number;
  sealedBytes: number;
  /** Sealed objects nobody holds, which eviction may remove, and their bytes. */
  evictableCount: number;
  evictableBytes: number;
  evictionPolicy: EvictionPolicyName;
  clientCount: number;
  waitingGetCount: number;
  waitingCreateCount: number;
}
