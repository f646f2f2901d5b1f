/**
 * What the transfer service needs from a store, so it never touches the store's internals: a source of
 * sealed objects to serve, and a sink that receives a pulled object.
 *
 * Offsets count over one range of dataSize + metadataSize bytes: the data, then the metadata.
 */
import type { PlasmaError } from "../../protocol/errors.ts";
import type { ObjectID } from "../../protocol/object-id.ts";

/** The serving side: the store opens a sealed object by id (holding a reference on it while it streams). */
export interface TransferSource {
  /**
   * The sealed object, or null when this store has no sealed object with that id; a promise when it
   * must be made available first (a spilled object is restored). A rejection refuses the pull.
   */
  open(id: ObjectID): TransferObject | null | Promise<TransferObject | null>;
}

/** One open object being served. release() is called exactly once, when the transfer ends in any way. */
export interface TransferObject {
  readonly dataSize: number;
  readonly metadataSize: number;
  /** Fills all of `target` with the object's bytes from `offset` on (offset + target.length ≤ size). */
  read(offset: number, target: Uint8Array): void;
  release(): void;
}

/** The pulling side: where the bytes of one pulled object go. */
export interface PullSink {
  /**
   * Called once, when the source announced the sizes: make room (e.g. create an unsealed object) and
   * return where to write, or the error that refuses the pull (StoreFullError, ObjectExistsError, ...).
   */
  begin(dataSize: number, metadataSize: number): PullTarget | PlasmaError;
}

/**
 * A destination being filled. write() is called for increasing, non-overlapping ranges that together
 * cover exactly [0, dataSize + metadataSize). Then exactly one of commit() (every byte arrived and every
 * chunk's checksum matched) or abort() (anything else) is called; abort() also follows a commit() that threw.
 */
export interface PullTarget {
  /** `bytes` is valid only during the call: copy it (into the arena). */
  write(offset: number, bytes: Uint8Array): void;
  commit(): void | Promise<void>;
  abort(): void;
}

export interface TransferAddress {
  host: string;
  port: number;
}
