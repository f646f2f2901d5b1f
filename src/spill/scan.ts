/**
 * The start-up scan of a spill directory: every intact `<idhex>.spill` file is an entry; a file with a
 * spill name that is truncated, corrupt, of another version, or not a regular file (a symlink, a
 * directory) is moved to `DIR/quarantine/` (renamed, never followed); leftover `*.tmp` files are removed;
 * anything else is not ours and is left alone. Each decision is logged.
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  unlinkSync,
} from "node:fs";
import { join } from "node:path";
import type { Logger } from "../log.ts";
import { SpillDirectoryError, SpillFormatError } from "./errors.ts";
import {
  DEFAULT_SPILL_SIZE_LIMITS,
  decodeHeader,
  parseSpillFileName,
  SPILL_HEADER_BYTES,
  SPILL_TMP_SUFFIX,
  type SpillSizeLimits,
  spillFileBytes,
  xxh64,
} from "./format.ts";
import { SPILL_LOCK_NAME } from "./lock.ts";

export const QUARANTINE_DIR_NAME = "quarantine";

export interface SpillEntry {
  id: Uint8Array;
  idHex: string;
  dataSizeBytes: number;
  metadataSizeBytes: number;
  /** Header + data + metadata. */
  fileBytes: number;
  path: string;
}

export interface QuarantinedFile {
  name: string;
  /** Where it went (under DIR/quarantine/). */
  path: string;
  reason: string;
}

export interface SpillScan {
  entries: SpillEntry[];
  quarantined: QuarantinedFile[];
  /** Leftover .tmp files removed. */
  removedTmpFiles: number;
  /** Names that are not ours, left untouched. */
  ignored: string[];
}

export interface ScanOptions {
  logger: Logger;
  sizeLimits?: SpillSizeLimits;
  /** Hash every file's content (default true): a flipped content byte is then found at start-up. */
  verifyContent?: boolean;
}

export function scanSpillDirectory(directory: string, options: ScanOptions): SpillScan {
  const quarantineDir = ensureQuarantine(directory);
  const scan: SpillScan = { entries: [], quarantined: [], removedTmpFiles: 0, ignored: [] };
  for (const name of readdirSync(directory).sort()) {
    if (name === SPILL_LOCK_NAME || name === QUARANTINE_DIR_NAME) continue;
    const path = join(directory, name);
    if (name.endsWith(SPILL_TMP_SUFFIX) && !lstatSync(path).isDirectory()) {
      unlinkSync(path); // unlink never follows a symlink: only the name goes.
      scan.removedTmpFiles++;
      continue;
    }
    const idHex = parseSpillFileName(name);
    if (idHex === null) {
      scan.ignored.push(name);
      continue;
    }
    const checked = checkFile(path, idHex, options);
    if (typeof checked === "string") {
      const moved = quarantine(quarantineDir, path, name);
      scan.quarantined.push({ name, path: moved, reason: checked });
      options.logger.warn(
        { file: path, quarantinedAs: moved, reason: checked },
        "spill file quarantined, not served",
      );
    } else {
      scan.entries.push(checked);
    }
  }
  if (scan.removedTmpFiles > 0) {
    options.logger.info({ directory, files: scan.removedTmpFiles }, "removed unfinished spill files (.tmp)");
  }
  if (scan.ignored.length > 0) {
    options.logger.warn(
      { directory, names: scan.ignored.slice(0, 20), count: scan.ignored.length },
      "files that are not spill files left untouched in the spill directory",
    );
  }
  return scan;
}

/** The entry for an intact file, or why it is not one. */
function checkFile(path: string, idHex: string, options: ScanOptions): SpillEntry | string {
  const stat = lstatSync(path);
  if (!stat.isFile()) return stat.isSymbolicLink() ? "a symbolic link, not a file" : "not a regular file";
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    return `cannot be opened: ${(error as Error).message}`;
  }
  try {
    const headerBytes = new Uint8Array(SPILL_HEADER_BYTES);
    const got = readSync(fd, headerBytes, 0, SPILL_HEADER_BYTES, 0);
    const header = decodeHeader(
      headerBytes.subarray(0, got),
      options.sizeLimits ?? DEFAULT_SPILL_SIZE_LIMITS,
    );
    if (Buffer.from(header.id).toString("hex") !== idHex)
      return "id-mismatch: the header names another object";
    const fileBytes = fstatSync(fd).size;
    const expected = spillFileBytes(header);
    if (fileBytes !== expected) return `file-size: ${fileBytes} bytes, the header says ${expected}`;
    if (options.verifyContent !== false && !contentMatches(path, header.contentHash, expected)) {
      return "content-checksum: the content does not match its checksum";
    }
    const { dataSizeBytes, metadataSizeBytes, id } = header;
    return { id, idHex, dataSizeBytes, metadataSizeBytes, fileBytes, path };
  } catch (error) {
    if (error instanceof SpillFormatError) return `${error.problem}: ${error.message}`;
    return `cannot be read: ${(error as Error).message}`;
  } finally {
    closeSync(fd);
  }
}

/** Hashes the content through a read-only mapping of the file: in place, no copy into a buffer. */
function contentMatches(path: string, contentHash: bigint, fileBytes: number): boolean {
  if (fileBytes === SPILL_HEADER_BYTES) return xxh64(new Uint8Array(0)) === contentHash;
  const mapped = Bun.mmap(path, { shared: false });
  if (mapped.length !== fileBytes) return false;
  return xxh64(mapped.subarray(SPILL_HEADER_BYTES)) === contentHash;
}

function ensureQuarantine(directory: string): string {
  const path = join(directory, QUARANTINE_DIR_NAME);
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
      throw new SpillDirectoryError(`Cannot create ${path}: ${(error as Error).message}`, { cause: error });
    }
  }
  if (!lstatSync(path).isDirectory()) {
    throw new SpillDirectoryError(
      `${path} exists and is not a directory; move it away so the store can quarantine bad spill files there.`,
    );
  }
  return path;
}

/** Renames `path` into the quarantine (the name itself, never a link's target); a taken name gets a suffix. */
function quarantine(quarantineDir: string, path: string, name: string): string {
  let target = join(quarantineDir, name);
  for (let n = 1; lstatExists(target); n++) target = join(quarantineDir, `${name}.${n}`);
  renameSync(path, target);
  return target;
}

function lstatExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
