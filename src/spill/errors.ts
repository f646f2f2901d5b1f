/** Typed errors of the spill edge. They stay in the store process (never sent on the wire). */
import { PlasmaError } from "../protocol/errors.ts";

/** What is wrong with a spill file, as a stable word (for logs, tests and the quarantine). */
export type SpillFormatProblem =
  | "truncated"
  | "magic"
  | "version"
  | "header-checksum"
  | "reserved"
  | "size-limit"
  | "file-size"
  | "id-mismatch"
  | "content-checksum";

/** A spill file (or header) that is not an intact file of this format version: never served. */
export class SpillFormatError extends PlasmaError {
  readonly problem: SpillFormatProblem;
  constructor(problem: SpillFormatProblem, message: string) {
    super(message, "SPILL_FORMAT");
    this.problem = problem;
  }
}

/** The system call that failed, its errno name and the path it was working on. */
export interface SpillIoCause {
  syscall: string;
  /** errno name, e.g. "ENOSPC", "EACCES"; "UNKNOWN" when the platform gave none. */
  errno: string;
  path: string;
}

/** A read or write of a spill file failed. `io` names the call and errno; `cause` is the original error. */
export class SpillIoError extends PlasmaError {
  readonly io: SpillIoCause;
  constructor(
    message: string,
    io: SpillIoCause,
    options?: ErrorOptions,
    code: "SPILL_IO" | "SPILL_DISK_FULL" = "SPILL_IO",
  ) {
    super(message, code, options);
    this.io = io;
  }
}

/** The spill directory's filesystem is full (ENOSPC or EDQUOT): the store falls back to dropping. */
export class SpillDiskFullError extends SpillIoError {
  constructor(message: string, io: SpillIoCause, options?: ErrorOptions) {
    super(message, io, options, "SPILL_DISK_FULL");
  }
}

/** The spill directory cannot be used: not creatable, not a directory, not writable. */
export class SpillDirectoryError extends PlasmaError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, "SPILL_DIRECTORY", options);
  }
}

/** Another live store holds the spill directory's lock file. */
export class SpillDirectoryLockedError extends PlasmaError {
  readonly ownerPid: number;
  constructor(message: string, ownerPid: number) {
    super(message, "SPILL_DIRECTORY_LOCKED");
    this.ownerPid = ownerPid;
  }
}

/** The spill worker was closed (store shutdown) before this job finished. */
export class SpillCancelledError extends PlasmaError {
  constructor(message: string) {
    super(message, "SPILL_CANCELLED");
  }
}
