/** Arena files: the descriptor that backs the shared heap (memfd, a file on tmpfs, or hugetlbfs). */
import { closeFd } from "./fd.ts";
import { changeMode } from "./file-io.ts";
import { check, checkRetry, ERRNO, errno, libc, SystemError } from "./libc.ts";
import { filesystemFreeBytes } from "./statfs.ts";
import { cString } from "./struct.ts";

export type ArenaBacking = "memfd" | "file" | "hugetlbfs";

export interface ArenaFile {
  fd: number;
  /** The file size: the requested size rounded up to a whole number of pages. */
  sizeBytes: number;
  backing: ArenaBacking;
  /** The directory the (already unlinked) file was created in; null for a memfd. */
  path: string | null;
  pageSizeBytes: number;
  hugePages: boolean;
  /** True when F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL are set: nobody can resize the file. */
  sealed: boolean;
}

export interface CreateArenaOptions {
  sizeBytes: number;
  /** Create an unlinked file here instead of a memfd (e.g. /dev/shm or a hugetlbfs mount). */
  directory?: string;
  /** 2 MiB pages: MFD_HUGETLB for a memfd; with `directory`, the directory must be on hugetlbfs. */
  hugePages?: boolean;
  /** memfd name (shown in /proc/PID/maps) or file name prefix. */
  name?: string;
  /**
   * memfd only: leave the file unsealed so the caller can map it writable first and then seal it with
   * `sealReadOnlyForOthers` (F_SEAL_FUTURE_WRITE). `sealed` is false in the result.
   */
  deferSeals?: boolean;
}

const MFD_CLOEXEC = 0x1;
const MFD_ALLOW_SEALING = 0x2;
const MFD_HUGETLB = 0x4;
const MFD_HUGE_2MB = 21 << 26;
const F_ADD_SEALS = 1033;
const F_SEAL_SEAL = 0x1;
const F_SEAL_SHRINK = 0x2;
const F_SEAL_GROW = 0x4;
const F_SEAL_FUTURE_WRITE = 0x10;
const O_RDWR = 0o2;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_CLOEXEC = 0o2000000;
const SC_PAGESIZE = 30;
const MEMFD_NAME_MAX = 249;

/** The kernel's base page size (4096 on x86-64). */
export const SYSTEM_PAGE_SIZE = Number(libc.sysconf(SC_PAGESIZE));
/** The huge page size MFD_HUGE_2MB asks for. */
export const HUGE_PAGE_SIZE = 2 * 1024 * 1024;

/** Create the arena's backing file, sized (rounded up to pages) and, for a memfd, sealed against resizing. */
export function createArenaFile(opts: CreateArenaOptions): ArenaFile {
  const { sizeBytes } = opts;
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) {
    throw new RangeError(`arena sizeBytes must be a positive safe integer, got ${sizeBytes}`);
  }
  return opts.directory === undefined ? createMemfd(opts) : createInDirectory(opts, opts.directory);
}

/** fallocate the whole file so later page faults cannot SIGBUS for lack of memory. Throws ENOSPC clearly. */
export function reserveArenaFile(fd: number, sizeBytes: number): void {
  checkRetry(
    "fallocate",
    () => libc.fallocate(fd, 0, 0, sizeBytes),
    `could not reserve ${sizeBytes} bytes for the arena (fd ${fd})`,
  );
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

function createMemfd(opts: CreateArenaOptions): ArenaFile {
  const hugePages = opts.hugePages === true;
  const name = opts.name ?? "plasma-arena";
  const nameBytes = cString(name, "arena name");
  if (nameBytes.length - 1 > MEMFD_NAME_MAX) {
    throw new RangeError(`memfd name is ${nameBytes.length - 1} bytes; the limit is ${MEMFD_NAME_MAX}`);
  }
  const pageSizeBytes = hugePages ? HUGE_PAGE_SIZE : SYSTEM_PAGE_SIZE;
  const sizeBytes = roundUp(opts.sizeBytes, pageSizeBytes);
  const flags = MFD_CLOEXEC | MFD_ALLOW_SEALING | (hugePages ? MFD_HUGETLB | MFD_HUGE_2MB : 0);
  const fd = check(
    "memfd_create",
    libc.memfd_create(nameBytes, flags),
    hugePages ? "MFD_HUGETLB with 2 MiB pages" : undefined,
  );
  try {
    checkRetry("ftruncate", () => libc.ftruncate(fd, sizeBytes), `${sizeBytes} bytes`);
    // A memfd starts as 0777: anyone holding a read-only descriptor could reopen it read-write through
    // /proc/self/fd. 0600 leaves that to the store's own uid (and root).
    changeMode(fd, 0o600);
    const sealed = opts.deferSeals === true ? false : addSeals(fd);
    return { fd, sizeBytes, backing: "memfd", path: null, pageSizeBytes, hugePages, sealed };
  } catch (error) {
    closeFd(fd);
    throw error;
  }
}

/**
 * Seal a memfd made with `deferSeals` against resizing, further seals and any NEW writable mapping or
 * write(2) (F_SEAL_FUTURE_WRITE): mappings made before keep writing, so the creator maps it writable first;
 * everyone who gets the descriptor afterwards (or reopens /proc/PID/fd/N) can map it read-only only.
 * Throws SystemError when the kernel refuses (F_SEAL_FUTURE_WRITE needs Linux 5.1).
 */
export function sealReadOnlyForOthers(fd: number): void {
  const seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL;
  check("fcntl", libc.fcntl(fd, F_ADD_SEALS, seals), `F_ADD_SEALS F_SEAL_FUTURE_WRITE on fd ${fd}`);
}

/** Seal against resizing (and against further seals, so no client can add F_SEAL_WRITE/FUTURE_WRITE). */
function addSeals(fd: number): boolean {
  if (libc.fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) === 0) return true;
  const code = errno();
  if (code === ERRNO.EINVAL || code === ERRNO.EPERM) return false;
  throw new SystemError("fcntl", code, "F_ADD_SEALS");
}

function createInDirectory(opts: CreateArenaOptions, directory: string): ArenaFile {
  const space = filesystemFreeBytes(directory);
  const hugePages = space.isHugetlbfs;
  if (opts.hugePages === true && !hugePages) {
    throw new Error(`hugePages requested but ${directory} is not on hugetlbfs (mount -t hugetlbfs)`);
  }
  const pageSizeBytes = hugePages ? space.blockSizeBytes : SYSTEM_PAGE_SIZE;
  const sizeBytes = roundUp(opts.sizeBytes, pageSizeBytes);
  const prefix = opts.name ?? "plasma-arena";
  if (prefix.includes("/")) throw new RangeError(`arena name must not contain '/': ${prefix}`);
  const fd = openUnique(directory, prefix);
  try {
    checkRetry("ftruncate", () => libc.ftruncate(fd, sizeBytes), `${sizeBytes} bytes in ${directory}`);
    return {
      fd,
      sizeBytes,
      backing: hugePages ? "hugetlbfs" : "file",
      path: directory,
      pageSizeBytes,
      hugePages,
      sealed: false,
    };
  } catch (error) {
    closeFd(fd);
    throw error;
  }
}

/** open(O_EXCL) a fresh name in `directory`, then unlink it at once: only the descriptor keeps it alive. */
function openUnique(directory: string, prefix: string): number {
  const random = new Uint32Array(2);
  for (let attempt = 0; ; attempt++) {
    crypto.getRandomValues(random);
    const suffix = `${process.pid}-${random[0]?.toString(16)}${random[1]?.toString(16)}`;
    const file = cString(`${directory.replace(/\/+$/, "")}/${prefix}-${suffix}`, "arena path");
    const fd = libc.open(file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600);
    if (fd < 0) {
      const code = errno();
      if ((code === ERRNO.EEXIST && attempt < 8) || code === ERRNO.EINTR) continue;
      throw new SystemError("open", code, `creating an arena file in ${directory}`);
    }
    if (libc.unlink(file) < 0) {
      const code = errno();
      closeFd(fd);
      throw new SystemError("unlink", code, `arena file in ${directory}`);
    }
    return fd;
  }
}
