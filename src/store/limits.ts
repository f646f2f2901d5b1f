import { DEFAULT_MAX_IDS_PER_REQUEST, DEFAULT_MAX_METADATA_BYTES } from "../protocol/limits.ts";

/** The store's per-request and per-client limits; going past one is a typed error for that client only. */
export interface StoreLimits {
  /** Largest object (data + metadata); defaults to the capacity. */
  maxObjectBytes: number;
  maxMetadataBytes: number;
  /** Ids in one get, getMetadata or delete. */
  maxIdsPerRequest: number;
  /** Gets one client may have blocked at once. */
  maxPendingGetsPerClient: number;
  /** Creates one client may have waiting for memory at once. */
  maxPendingCreatesPerClient: number;
  /** Connected clients; the next one is refused. */
  maxClients: number;
}

export function defaultLimits(capacityBytes: number): StoreLimits {
  return {
    maxObjectBytes: capacityBytes,
    maxMetadataBytes: DEFAULT_MAX_METADATA_BYTES,
    maxIdsPerRequest: DEFAULT_MAX_IDS_PER_REQUEST,
    maxPendingGetsPerClient: 1024,
    maxPendingCreatesPerClient: 64,
    maxClients: 1024,
  };
}
