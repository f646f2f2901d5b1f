/**
 * Opening a spill directory: create it if missing, refuse it if it is not a writable directory, take its
 * lock, scan it. Also the default disk budget.
 */
import { accessSync, constants, mkdirSync, statSync } from "node:fs";
import { filesystemFreeBytes } from "../ffi/statfs.ts";
import type { Logger } from "../log.ts";
import { SpillDirectoryError } from "./errors.ts";
import type { SpillSizeLimits } from "./format.ts";
import { type SpillLock, takeSpillLock } from "./lock.ts";
import { type SpillScan, scanSpillDirectory } from "./scan.ts";

/** Share of the spill directory's free space at start-up the default budget leaves free. */
export const SPILL_BUDGET_HEADROOM = 0.05;

export interface OpenSpillDirectoryOptions {
  logger: Logger;
  sizeLimits?: SpillSizeLimits;
  verifyContent?: boolean;
}

export interface SpillDirectory {
  readonly path: string;
  readonly lock: SpillLock;
  /** What the start-up scan found. */
  readonly scan: SpillScan;
  /** Releases the lock. */
  close(): void;
}

export function openSpillDirectory(path: string, options: OpenSpillDirectoryOptions): SpillDirectory {
  prepareDirectory(path);
  const lock = takeSpillLock(path, options.logger);
  try {
    const scan = scanSpillDirectory(path, options);
    options.logger.info(
      { directory: path, objects: scan.entries.length, quarantined: scan.quarantined.length },
      "spill directory opened",
    );
    return { path, lock, scan, close: () => lock.release() };
  } catch (error) {
    lock.release();
    throw error;
  }
}

/** Creates the directory if missing; throws SpillDirectoryError unless it is a directory we can write. */
export function prepareDirectory(path: string): void {
  try {
    mkdirSync(path, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new SpillDirectoryError(
      `Cannot create the spill directory ${path}: ${(error as Error).message}. Create it, or choose another --spill-dir.`,
      { cause: error },
    );
  }
  if (!statSync(path).isDirectory()) {
    throw new SpillDirectoryError(
      `The spill directory ${path} is not a directory; choose another --spill-dir.`,
    );
  }
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new SpillDirectoryError(
      `The spill directory ${path} is not writable by this user (uid ${process.getuid?.()}): give it write access, or choose another --spill-dir.`,
      { cause: error },
    );
  }
}

/** The default disk budget: the free space of `path` now, minus 5%. */
export function defaultSpillBudgetBytes(path: string): number {
  return Math.floor(filesystemFreeBytes(path).freeBytes * (1 - SPILL_BUDGET_HEADROOM));
}
