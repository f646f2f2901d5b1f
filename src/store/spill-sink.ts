/**
 * The interface through which the pure store core spills and restores objects (issue 16): the core
 * decides what to spill and when memory is freed; the edge that implements SpillSink (src/spill/edge.ts)
 * does the disk I/O and reports back with core.spillFinished / core.restoreFinished.
 */
import type { PlasmaError } from "../protocol/errors.ts";
import type { ObjectEntry } from "./object-table.ts";
import type { SpillDropReason } from "./spill-index.ts";

/** Bytes a spill file adds to the object's data and metadata (its header; src/spill/format.ts checks it). */
export const SPILL_FILE_OVERHEAD_BYTES = 64;

/** A spilled object as the core remembers it: enough to list it and to restore it. */
export interface SpilledObject {
  readonly key: string;
  readonly id: Uint8Array;
  readonly dataSize: number;
  readonly metadataSize: number;
  readonly createTimeMs: number;
  readonly constructDurationMs: number;
  /** Seal order it had in memory (0 for a file adopted at start-up): subscribers see it in this order. */
  readonly sealOrder: number;
}

export type SpillOutcome =
  | { ok: true; fileBytes: number; durationMs: number }
  | { ok: false; reason: Exclude<SpillDropReason, "budget">; error: PlasmaError; durationMs: number };

export interface SpillSink {
  /** Starts writing the sealed object's file from its block; ends with core.spillFinished(key, outcome). */
  spill(entry: ObjectEntry): void;
  /** Starts reading the object's file into the block at `offset`; ends with core.restoreFinished. */
  restore(object: SpilledObject, offset: number): void;
  /** Removes the object's file (it was deleted, restored, or its spill is no longer wanted). */
  remove(key: string): void;
}

/** Spill figures of the core, as StoreCore.spillStats() reports them (a snapshot). */
export interface SpillStats {
  budgetBytes: number;
  /** File bytes of spilled objects, plus bytes reserved by spills in flight. */
  diskUsedBytes: number;
  spilledCount: number;
  /** Data and metadata bytes of spilled objects. */
  spilledBytes: number;
  spillingCount: number;
  restoringCount: number;
  /** Spills that completed (files made durable) since start. */
  spills: number;
  spillBytesTotal: number;
  spillSecondsTotal: number;
  restores: number;
  restoreBytesTotal: number;
  restoreSecondsTotal: number;
  restoreFailures: number;
  /** Victims dropped instead of spilled, by reason. */
  drops: Readonly<Record<SpillDropReason, number>>;
  /** Spilled objects deleted because a client asked. */
  spilledDeletes: number;
}

/** A detached ObjectEntry (state "spilled") for list() and events. */
export function spilledEntryOf(object: SpilledObject): ObjectEntry {
  return Object.freeze({
    key: object.key,
    id: Uint8Array.from(object.id),
    offset: -1,
    dataSize: object.dataSize,
    metadataSize: object.metadataSize,
    allocatedBytes: 0,
    state: "spilled",
    creatorClientId: 0,
    holders: new Map<number, number>(),
    refCount: 0,
    createTimeMs: object.createTimeMs,
    constructDurationMs: object.constructDurationMs,
    lastAccessTimeMs: object.createTimeMs,
    accessCount: 0,
    sealOrder: object.sealOrder,
    deletePending: false,
  });
}
