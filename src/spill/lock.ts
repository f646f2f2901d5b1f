/**
 * The spill directory's lock file, `DIR/LOCK`, holding the owner's pid: created with O_EXCL, so two
 * stores never share a directory. A lock whose pid is not alive (or that holds no pid) is stale and is
 * taken over, with a log line.
 */
import { closeSync, constants, fsyncSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../log.ts";
import { SpillDirectoryError, SpillDirectoryLockedError } from "./errors.ts";

export const SPILL_LOCK_NAME = "LOCK";
const TAKEOVER_ATTEMPTS = 3;

export interface SpillLock {
  readonly path: string;
  readonly pid: number;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void;
}

/** True when a process with this pid exists (EPERM: it exists, owned by someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes DIR/LOCK for this process; throws SpillDirectoryLockedError when a live process holds it. */
export function takeSpillLock(directory: string, logger: Logger, pid = process.pid): SpillLock {
  const path = join(directory, SPILL_LOCK_NAME);
  for (let attempt = 0; attempt < TAKEOVER_ATTEMPTS; attempt++) {
    if (tryCreate(path, pid)) return ownedLock(path, pid);
    const owner = readOwner(path);
    if (owner === "gone") continue;
    if (owner !== null && pidAlive(owner)) {
      throw new SpillDirectoryLockedError(
        `The spill directory ${directory} is in use by process ${owner} (${path}); two stores cannot share a spill directory: stop that store or choose another --spill-dir.`,
        owner,
      );
    }
    logger.warn({ lock: path, stalePid: owner }, "taking over a stale spill directory lock");
    try {
      unlinkSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw lockError(path, error);
    }
  }
  throw new SpillDirectoryError(`Could not take the spill directory lock ${path}: it keeps being recreated.`);
}

function tryCreate(path: string, pid: number): boolean {
  let fd: number;
  try {
    fd = openSync(
      path,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o644,
    );
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw lockError(path, error);
  }
  try {
    writeSync(fd, `${pid}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** The pid in the lock file; null when it holds none (stale), "gone" when it vanished meanwhile. */
function readOwner(path: string): number | null | "gone" {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "gone";
    throw lockError(path, error);
  }
  const match = /^(\d+)\n?$/.exec(text);
  const pid = match ? Number(match[1]) : Number.NaN;
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
}

function ownedLock(path: string, pid: number): SpillLock {
  let held = true;
  return {
    path,
    pid,
    release() {
      if (!held) return;
      held = false;
      if (readOwner(path) === pid) unlinkSync(path);
    },
  };
}

function lockError(path: string, error: unknown): SpillDirectoryError {
  const reason = error instanceof Error ? error.message : String(error);
  return new SpillDirectoryError(`Cannot use the spill directory lock ${path}: ${reason}`, { cause: error });
}
