/**
 * The store's spill edge (issue 16): implements the core's SpillSink with SpillFiles (one worker thread
 * writes and reads the files, straight from and into the arena), adopts the files a start-up scan found,
 * logs what the core reports (drop episodes, failed writes), and drains at shutdown.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../log.ts";
import { PlasmaError } from "../protocol/errors.ts";
import type { ObjectEntry } from "../store/object-table.ts";
import { SPILL_FILE_OVERHEAD_BYTES, type SpilledObject, type SpillSink } from "../store/spill-sink.ts";
import { hexOf, type StoreCore, type StoreEvent } from "../store/store.ts";
import type { SpillDirectory } from "./directory.ts";
import { SpillDiskFullError } from "./errors.ts";
import { SpillFiles } from "./files.ts";
import { decodeHeader, SPILL_FILE_SUFFIX, SPILL_HEADER_BYTES } from "./format.ts";

if (SPILL_FILE_OVERHEAD_BYTES !== SPILL_HEADER_BYTES) {
  throw new Error("The core's spill file overhead must be the spill header's size.");
}

export interface SpillEdgeOptions {
  core: StoreCore;
  directory: SpillDirectory;
  /** Address of the store's mapping of the arena. */
  arenaAddress: number;
  logger: Logger;
}

export class SpillEdge implements SpillSink {
  readonly #o: SpillEdgeOptions;
  readonly #files: SpillFiles;
  readonly #unlisten: () => void;
  /** Resolvers of drain(), called when no spill or restore is in flight. */
  #idle: (() => void)[] = [];

  constructor(options: SpillEdgeOptions) {
    this.#o = options;
    this.#files = new SpillFiles(options.directory.path);
    this.#unlisten = options.core.onEvent((event) => this.#logEvent(event));
  }

  /** Makes every intact file the scan found an object of the store again (state spilled). */
  adoptScanned(): number {
    const { core, directory } = this.#o;
    let adopted = 0;
    for (const entry of directory.scan.entries) {
      const key = String.fromCharCode(...entry.id);
      core.adoptSpilled(
        {
          key,
          id: entry.id,
          dataSize: entry.dataSizeBytes,
          metadataSize: entry.metadataSizeBytes,
          createTimeMs: Date.now(),
          constructDurationMs: 0,
          sealOrder: 0,
        },
        entry.fileBytes,
      );
      adopted++;
    }
    for (const file of directory.scan.quarantined) {
      this.#o.logger.warn(
        { file: file.name, movedTo: file.path, reason: file.reason },
        "spill file quarantined",
      );
    }
    return adopted;
  }

  spill(entry: ObjectEntry): void {
    const { key, id, dataSize, metadataSize, offset } = entry;
    const startMs = performance.now();
    this.#files
      .spill({
        id,
        dataSizeBytes: dataSize,
        metadataSizeBytes: metadataSize,
        source: { pointer: this.#o.arenaAddress, offsetBytes: offset },
      })
      .then(
        (result) =>
          this.#o.core.spillFinished(key, {
            ok: true,
            fileBytes: result.sizeBytes,
            durationMs: performance.now() - startMs,
          }),
        (error: unknown) =>
          this.#o.core.spillFinished(key, {
            ok: false,
            reason: error instanceof SpillDiskFullError ? "disk-full" : "io-error",
            error: asPlasmaError(error),
            durationMs: performance.now() - startMs,
          }),
      )
      .finally(() => this.#checkIdle());
  }

  restore(object: SpilledObject, offset: number): void {
    const startMs = performance.now();
    const job = {
      id: object.id,
      dataSizeBytes: object.dataSize,
      metadataSizeBytes: object.metadataSize,
      path: this.#pathOf(object.key),
    };
    this.#files
      .restore(job, { pointer: this.#o.arenaAddress, offsetBytes: offset })
      .then(
        () => this.#o.core.restoreFinished(object.key, null, performance.now() - startMs),
        (error: unknown) => {
          this.#o.logger.error(
            { object: hexOf(object.key), err: (error as Error).message },
            "spilled object could not be restored",
          );
          this.#o.core.restoreFinished(object.key, asPlasmaError(error), performance.now() - startMs);
        },
      )
      .finally(() => this.#checkIdle());
  }

  remove(key: string): void {
    const path = this.#pathOf(key);
    unlink(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") {
        this.#o.logger.error({ file: path, err: error.message }, "spill file could not be removed");
      }
    });
  }

  /** XXH64 of data ‖ metadata, from the object's file header (the Hash reply of a spilled object). */
  digestOf(key: string): bigint {
    const fd = openSync(this.#pathOf(key), "r");
    try {
      const header = new Uint8Array(SPILL_HEADER_BYTES);
      readSync(fd, header, 0, SPILL_HEADER_BYTES, 0);
      return decodeHeader(header).contentHash;
    } finally {
      closeSync(fd);
    }
  }

  /** Resolves once no spill or restore is in flight. */
  drain(): Promise<void> {
    if (this.#o.core.spillJobsInFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Cancels what is in flight (the objects stay as they were), ends the worker, releases the lock. */
  async close(): Promise<void> {
    this.#unlisten();
    await this.#files.close();
    this.#o.directory.close();
  }

  #checkIdle(): void {
    if (this.#o.core.spillJobsInFlight > 0 || this.#idle.length === 0) return;
    const idle = this.#idle;
    this.#idle = [];
    for (const resolve of idle) resolve();
  }

  #pathOf(key: string): string {
    return join(this.#o.directory.path, `${hexOf(key)}${SPILL_FILE_SUFFIX}`);
  }

  #logEvent(event: StoreEvent): void {
    const log = this.#o.logger;
    if (event.kind === "spill_dropped" && event.startsEpisode) {
      log.warn(
        { object: hexOf(event.entry.key), reason: event.reason },
        "spilling impossible: evicted objects are dropped (logged once until a spill succeeds again)",
      );
    } else if (event.kind === "spill_failed" && event.error.code !== "SPILL_CANCELLED") {
      log.error(
        { object: hexOf(event.entry.key), code: event.error.code, err: event.error.message },
        "spill write failed: the object stays in memory",
      );
    }
  }
}

function asPlasmaError(error: unknown): PlasmaError {
  if (error instanceof PlasmaError) return error;
  return new PlasmaError(error instanceof Error ? error.message : String(error));
}
