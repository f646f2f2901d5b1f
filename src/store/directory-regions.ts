/**
 * The shared regions of directory reads (docs/shared-directory.md), made and mapped by the store's edge:
 * the directory (mapped writable here, then sealed so no one else can ever map it writable) and one pin
 * table per client (writable by that client; sealed against resizing, so no client can make the store's
 * mapping fault). The core only sees the typed-array views.
 */
import { closeFd, createArenaFile, mapShared, sealReadOnlyForOthers, unmap, viewOf } from "../ffi/index.ts";
import {
  DEFAULT_ACCESS_RING,
  directorySizeBytes,
  initPinTable,
  type PinTableView,
  pinTableSizeBytes,
} from "../protocol/shared-directory/index.ts";
import { SharedReads } from "./pins.ts";

/** Pin slots per client unless configured: objects one client holds at once through the directory. */
export const DEFAULT_STORE_PIN_SLOTS = 1024;

export interface MappedRegion {
  readonly fd: number;
  readonly address: number;
  readonly sizeBytes: number;
}

export interface DirectoryRegion extends MappedRegion {
  readonly sharedReads: SharedReads;
}

export interface PinTableRegion extends MappedRegion {
  readonly view: PinTableView;
}

/** The smallest power of two >= `entries` (at least 2): directory capacities are powers of two. */
export function directoryCapacityFor(entries: number): number {
  let capacity = 2;
  while (capacity < entries) capacity *= 2;
  return capacity;
}

/** A directory of `capacity` entries: memfd, writable mapping for the store, then F_SEAL_FUTURE_WRITE. */
export function createDirectoryRegion(capacity: number, generation: number): DirectoryRegion {
  const file = createArenaFile({
    sizeBytes: directorySizeBytes(capacity),
    name: "plasma-directory",
    deferSeals: true,
  });
  let address = 0;
  try {
    address = mapShared(file.fd, file.sizeBytes);
    sealReadOnlyForOthers(file.fd);
    const sharedReads = new SharedReads(viewOf(address, 0, file.sizeBytes), capacity, generation);
    return { fd: file.fd, address, sizeBytes: file.sizeBytes, sharedReads };
  } catch (error) {
    if (address !== 0) unmap(address, file.sizeBytes);
    closeFd(file.fd);
    throw error;
  }
}

/** A client's pin table: a memfd sealed against resizing, mapped writable, initialised. */
export function createPinTableRegion(slotCount: number, ringSize = DEFAULT_ACCESS_RING): PinTableRegion {
  const file = createArenaFile({ sizeBytes: pinTableSizeBytes(slotCount, ringSize), name: "plasma-pins" });
  let address = 0;
  try {
    address = mapShared(file.fd, file.sizeBytes);
    const view = initPinTable(viewOf(address, 0, file.sizeBytes), slotCount, ringSize);
    return { fd: file.fd, address, sizeBytes: file.sizeBytes, view };
  } catch (error) {
    if (address !== 0) unmap(address, file.sizeBytes);
    closeFd(file.fd);
    throw error;
  }
}

/** Unmap and close. Every view of the region must be unreachable by then (the core dropped it). */
export function closeRegion(region: MappedRegion): void {
  unmap(region.address, region.sizeBytes);
  closeFd(region.fd);
}
