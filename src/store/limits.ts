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
  /** Connected clients (counted from their Hello); the next one is refused. */
  maxClients: number;
  /**
   * Store memory one client may take in each of: its blocked gets and waiting creates (estimated with
   * WAITING_ID_BYTES and WAITING_CREATE_BYTES), the replies it has not read yet, and the request frame
   * it is sending (see the server). --max-client-memory.
   */
  maxClientMemoryBytes: number;
}

/** Default --max-client-memory: 64 MiB (the largest protocol frame fits, and 4× this is the old 256 MiB cap). */
export const DEFAULT_MAX_CLIENT_MEMORY_BYTES = 64 * 1024 * 1024;
/**
 * Smallest --max-client-memory: room for the largest request our client sends with the default limits
 * (a get of 100 000 ids is 2 MB, a create with 1 MiB of metadata a little over 1 MiB).
 */
export const MIN_CLIENT_MEMORY_BYTES = 4 * 1024 * 1024;
/**
 * Store memory of one id in a blocked get, an estimate: the key string, its place in the waiter's set
 * and in the registry's map of waiters by key (measured: a blocked get of 100 000 ids took about 44 MB).
 */
export const WAITING_ID_BYTES = 512;
/** Store memory of a create waiting for memory, besides the copy of its metadata it keeps. */
export const WAITING_CREATE_BYTES = 512;

export function defaultLimits(capacityBytes: number): StoreLimits {
  return {
    maxObjectBytes: capacityBytes,
    maxMetadataBytes: DEFAULT_MAX_METADATA_BYTES,
    maxIdsPerRequest: DEFAULT_MAX_IDS_PER_REQUEST,
    maxPendingGetsPerClient: 1024,
    maxPendingCreatesPerClient: 64,
    maxClients: 1024,
    maxClientMemoryBytes: DEFAULT_MAX_CLIENT_MEMORY_BYTES,
  };
}

/** Default --hello-timeout-ms: a connection that has not said Hello by then is closed. */
export const DEFAULT_HELLO_TIMEOUT_MS = 5000;
/** Largest frame body accepted before Hello (a Hello body is 6 bytes). */
export const PRE_HELLO_MAX_FRAME_BODY_BYTES = 256;
/**
 * A client's unread replies may reach this many times --max-client-memory (replies the store cannot hold
 * back: gets that waited, notifications) before its connection is closed.
 */
export const OUTPUT_HARD_CAP_FACTOR = 4;
