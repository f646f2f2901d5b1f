/**
 * Reads served from the store's shared-memory directory, without a round trip (docs/shared-directory.md):
 * look the sealed object up, pin it in this client's own pin table, re-check, and use the arena at its
 * offset; unpin when the last local reference ends. Anything the directory cannot answer (absent, not
 * sealed yet, busy, a full pin table) returns null and the caller asks the store as before.
 */
import { fstatSync } from "node:fs";
import { closeFd, mapShared, unmap, viewOf } from "../ffi/index.ts";
import type { ObjectLocation } from "../protocol/codecs/index.ts";
import {
  AcquireStatus,
  DirectoryAcquirer,
  DirectoryHit,
  DirectoryReader,
  LookupStatus,
  PinTable,
} from "../protocol/shared-directory/index.ts";
import type { DirectoryFds } from "./connection.ts";

/** A pin this client holds on one publication of an object. */
export interface DirectoryPin {
  readonly slot: number;
  readonly index: number;
  readonly version: number;
}

interface Mapping {
  readonly address: number;
  readonly sizeBytes: number;
}

export class DirectoryReads {
  readonly #reader: DirectoryReader;
  readonly #pins: PinTable;
  readonly #acquirer: DirectoryAcquirer;
  readonly #hit = new DirectoryHit();
  readonly #mappings: Mapping[];
  #closed = false;

  /** Maps both regions (the directory read-only) and closes the descriptors; throws if they are not ours. */
  static open(fds: DirectoryFds): DirectoryReads {
    const mappings: Mapping[] = [];
    try {
      const directory = mapFd(fds.directoryFd, true);
      mappings.push(directory);
      const pins = mapFd(fds.pinTableFd, false);
      mappings.push(pins);
      const reader = DirectoryReader.attach(viewOf(directory.address, 0, directory.sizeBytes));
      const table = PinTable.attach(viewOf(pins.address, 0, pins.sizeBytes));
      return new DirectoryReads(reader, table, mappings);
    } catch (error) {
      for (const m of mappings) unmap(m.address, m.sizeBytes);
      throw error;
    } finally {
      closeFd(fds.directoryFd);
      closeFd(fds.pinTableFd);
    }
  }

  private constructor(reader: DirectoryReader, pins: PinTable, mappings: Mapping[]) {
    this.#reader = reader;
    this.#pins = pins;
    this.#acquirer = new DirectoryAcquirer(reader, pins);
    this.#mappings = mappings;
  }

  /** Pin the sealed object `id`: its location (written into a new object) and pin, or null (ask the store). */
  acquire(id: Uint8Array): { location: ObjectLocation; pin: DirectoryPin } | null {
    if (this.#closed) return null;
    const hit = this.#hit;
    if (this.#acquirer.acquire(id, hit) !== AcquireStatus.PINNED) return null;
    return {
      location: { offset: hit.offset, dataSize: hit.dataSize, metadataSize: hit.metadataSize },
      pin: { slot: this.#acquirer.slot, index: hit.index, version: hit.version },
    };
  }

  /**
   * A get answered from a pin this client already holds: tell the store's LRU/LFU it was used again (the
   * access ring, as a fresh acquire does), so uses are counted per get, not per pin.
   */
  recordUse(pin: DirectoryPin): void {
    if (!this.#closed) this.#pins.recordAccess(pin.index);
  }

  /** True when the object is sealed in the directory now; null when only the store can say. */
  contains(id: Uint8Array): true | null {
    if (this.#closed) return null;
    return this.#reader.find(id, this.#hit) === LookupStatus.FOUND ? true : null;
  }

  /**
   * Drop a pin (the caller is done with the memory). True when the store was waiting for it (the entry is
   * no longer the sealed publication pinned): tell it (PinsReleased) so it frees the object now.
   */
  release(pin: DirectoryPin): boolean {
    if (this.#closed) return false;
    this.#acquirer.release(pin.slot);
    return this.#reader.versionAt(pin.index) !== pin.version;
  }

  /** Unmap both regions. Nothing may use a pin or a location acquired here afterwards. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const m of this.#mappings) unmap(m.address, m.sizeBytes);
  }
}

function mapFd(fd: number, readOnly: boolean): Mapping {
  const sizeBytes = fstatSync(fd).size;
  return { address: mapShared(fd, sizeBytes, { readOnly }), sizeBytes };
}
