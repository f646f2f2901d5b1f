/**
 * The transfer service's view of this store: open a sealed object by id, holding a store reference on
 * it (so it cannot be evicted or deleted) until the transfer releases it; bytes are read through the
 * store's ArenaAccess (safe against clients that truncate or punch the arena file). A spilled object is
 * restored first (docs/cluster.md, "Spilled objects").
 */
import type { ObjectID } from "../protocol/object-id.ts";
import type { ArenaAccess } from "../store/arena-access.ts";
import type { ObjectEntry } from "../store/object-table.ts";
import type { StoreCore } from "../store/store.ts";
import type { TransferObject, TransferSource } from "./transfer/types.ts";

export class StoreTransferSource implements TransferSource {
  readonly #core: StoreCore;
  readonly #access: ArenaAccess;

  constructor(core: StoreCore, access: ArenaAccess) {
    this.#core = core;
    this.#access = access;
  }

  /**
   * A sealed object is held at once; a spilled one is restored into memory first (its file is verified
   * against its XXH64 on the way in, as for a get), then held and streamed from the arena.
   */
  open(id: ObjectID): TransferObject | null | Promise<TransferObject | null> {
    const key = id.key;
    if (this.#core.spilledObject(key) === undefined) {
      const entry = this.#core.holdForSource(key);
      return entry === null ? null : this.#served(key, entry);
    }
    return new Promise((resolve, reject) => {
      this.#core.holdForSourceRestoring(key, (entry, error) => {
        if (error !== null) reject(error);
        else resolve(entry === null ? null : this.#served(key, entry));
      });
    });
  }

  #served(key: string, entry: ObjectEntry): TransferObject {
    const { offset, dataSize, metadataSize } = entry;
    const core = this.#core;
    const access = this.#access;
    let released = false;
    return {
      dataSize,
      metadataSize,
      read(from: number, target: Uint8Array): void {
        // Data then metadata are one contiguous range in the block: offset counts over both.
        target.set(access.peek(offset + from, target.length));
      },
      release(): void {
        if (released) return;
        released = true;
        core.releaseForSource(key);
      },
    };
  }
}
