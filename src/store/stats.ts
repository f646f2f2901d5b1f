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
