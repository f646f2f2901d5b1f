/**
 * The transfer service's view of this store: open a sealed object by id, holding a store reference on
 * it (so it cannot be evicted or deleted) until the transfer releases it; bytes are read through the
 * store's ArenaAccess (safe against clients that truncate or punch the arena file).
 */
import type { ObjectID } from "../protocol/object-id.ts";
import type { ArenaAccess } from "../store/arena-access.ts";
import type { StoreCore } from "../store/store.ts";
import type { TransferObject, TransferSource } from "./transfer/types.ts";

export class StoreTransferSource implements TransferSource {
  readonly #core: StoreCore;
  readonly #access: ArenaAccess;

  constructor(core: StoreCore, access: ArenaAccess) {
    this.#core = core;
    this.#access = access;
  }

  open(id: ObjectID): TransferObject | null {
    const key = id.key;
    const entry = this.#core.holdForSource(key);
    if (entry === null) return null;
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
