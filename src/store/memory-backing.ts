/**
 * Start-up checks and memory backing for the arena: everything that could otherwise crash the store (or a
 * client) later with SIGBUS is checked here and turned into a message that says what to run.
 *
 * - `-d DIR`: statfs free space against the arena, then fallocate so no later page touch can fail.
 * - `-h`: hugetlbfs mount (with -d) or the 2 MiB pool (memfd + MFD_HUGETLB), enough free pages, sizes
 *   rounded up to whole huge pages.
 * - `--prefault`: fault the whole arena in at start-up, with progress for large arenas.
 */
import { readFileSync } from "node:fs";
import { formatBytesCompact } from "../cli-support/bytes.ts";
import {
  type ArenaFile,
  closeFd,
  createArenaFile,
  type FilesystemSpace,
  filesystemFreeBytes,
  HUGE_PAGE_SIZE,
  hugePagePool,
  mapShared,
  prefault,
  reserveArenaFile,
  residentBytes,
  SYSTEM_PAGE_SIZE,
  SystemError,
  unmap,
} from "../ffi/index.ts";
import type { Logger } from "../log.ts";
import { PlasmaError } from "../protocol/errors.ts";

export type MemoryBackingErrorCode =
  /** The directory given with -d cannot hold the arena (e.g. Docker's 64 MB /dev/shm). */
  | "ARENA_NO_SPACE"
  /** -d names a directory that does not exist or cannot be inspected. */
  | "ARENA_DIRECTORY"
  /** -h with -d on a directory that is not a hugetlbfs mount. */
  | "NOT_HUGETLBFS"
  /** -h but the kernel has no 2 MiB huge pages, or too few are free. */
  | "HUGE_PAGES_UNAVAILABLE"
  /** --prefault could not fault the arena in (out of memory). */
  | "PREFAULT_FAILED";

/** The store cannot back its arena as asked; the message says what to change. Raised only at start-up. */
export class MemoryBackingError extends PlasmaError {
  declare readonly code: MemoryBackingErrorCode;
  constructor(code: MemoryBackingErrorCode, message: string, options?: ErrorOptions) {
    super(message, code, options);
  }
}

export interface ArenaRequest {
  capacityBytes: number;
  directory?: string;
  hugePages?: boolean;
  /** Fault every page in at start-up. */
  prefault?: boolean;
}

/** What the arena costs and holds, for logs and the admin plane. */
export interface MemoryAccounting {
  /** "memfd", "file" (a file in -d DIR, e.g. /dev/shm) or "hugetlbfs". */
  backing: ArenaFile["backing"];
  /** -d DIR, or null for a memfd. */
  directory: string | null;
  hugePages: boolean;
  pageSizeBytes: number;
  /** The arena: the capacity rounded up to whole pages. */
  arenaBytes: number;
  /** Bytes the kernel has promised up front (fallocate in -d DIR; the huge page reservation of -h). */
  reservedBytes: number;
  /** Bytes of the arena that are in memory now (mincore, whole pages). */
  faultedBytes: number;
  /** Whether --prefault faulted the whole arena in at start-up. */
  prefaulted: boolean;
}

export interface PreparedArena {
  arena: ArenaFile;
  /** Base address of the store's read-write mapping. */
  address: number;
  reservedBytes: number;
  prefaulted: boolean;
  /** Unmaps and closes the arena (on a failed start-up, or at stop). */
  release(): void;
  accounting(): MemoryAccounting;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** Arenas at least this large log prefault progress. */
const PREFAULT_PROGRESS_BYTES = GiB;
const PREFAULT_CHUNK_BYTES = 256 * MiB;
const HUGE_2MB_SYSFS = "/sys/kernel/mm/hugepages/hugepages-2048kB";

/** The same count as a size docker/podman --shm-size accepts (whole MiB, rounded up, in "m"). */
function shmSizeFlag(bytes: number): string {
  return `${Math.ceil(bytes / MiB)}m`;
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

/**
 * Checks, creates, reserves, maps and (optionally) prefaults the arena. Throws MemoryBackingError with a
 * message naming the fix when the backing cannot hold it.
 */
export function prepareArena(request: ArenaRequest, log: Logger): PreparedArena {
  checkBacking(request);
  let arena: ArenaFile;
  try {
    arena = createArenaFile({
      sizeBytes: request.capacityBytes,
      directory: request.directory,
      hugePages: request.hugePages,
      name: "plasma-arena",
    });
  } catch (error) {
    throw explainCreateFailure(request, error);
  }
  let address = 0;
  let reservedBytes = 0;
  try {
    if (arena.path !== null) {
      reservedBytes = reserve(arena, log);
    }
    try {
      address = mapShared(arena.fd, arena.sizeBytes);
    } catch (error) {
      throw explainCreateFailure(request, error);
    }
    // A shared hugetlb mapping reserves its pages at mmap: from here on they are promised to us.
    if (arena.hugePages && reservedBytes === 0) reservedBytes = arena.sizeBytes;
    if (request.prefault === true) prefaultArena(address, arena, log);
  } catch (error) {
    if (address !== 0) unmap(address, arena.sizeBytes);
    closeFd(arena.fd);
    throw error;
  }
  let released = false;
  const faulted = (): number => {
    try {
      return residentBytes(address, arena.sizeBytes);
    } catch {
      return 0; // Unmapped by a stop in progress.
    }
  };
  const prefaulted = request.prefault === true;
  return {
    arena,
    address,
    reservedBytes,
    prefaulted,
    release() {
      if (released) return;
      released = true;
      unmap(address, arena.sizeBytes);
      closeFd(arena.fd);
    },
    accounting() {
      return {
        backing: arena.backing,
        directory: arena.path,
        hugePages: arena.hugePages,
        pageSizeBytes: arena.pageSizeBytes,
        arenaBytes: arena.sizeBytes,
        reservedBytes,
        faultedBytes: released ? 0 : faulted(),
        prefaulted,
      };
    },
  };
}

/** Everything that can be known before creating the file. */
export function checkBacking(request: ArenaRequest): void {
  if (request.directory !== undefined) {
    checkDirectory(request, request.directory);
  } else if (request.hugePages === true) {
    checkHugePagePool(roundUp(request.capacityBytes, HUGE_PAGE_SIZE), HUGE_PAGE_SIZE, "memfd");
  }
}

function checkDirectory(request: ArenaRequest, directory: string): void {
  let space: FilesystemSpace;
  try {
    space = filesystemFreeBytes(directory);
  } catch (error) {
    throw new MemoryBackingError(
      "ARENA_DIRECTORY",
      `Cannot use -d ${directory}: ${(error as Error).message}. Give -d an existing directory on tmpfs (/dev/shm) or hugetlbfs, or leave -d out to use an anonymous memfd.`,
      { cause: error },
    );
  }
  if (request.hugePages === true && !space.isHugetlbfs) {
    throw new MemoryBackingError(
      "NOT_HUGETLBFS",
      `-h was given with -d ${directory}, which is not a hugetlbfs mount. Mount one as root: ` +
        `\`mkdir -p ${directory} && mount -t hugetlbfs -o pagesize=2M none ${directory}\`, ` +
        "or leave -d out (-h alone uses memfd_create(MFD_HUGETLB) and needs no mount).",
    );
  }
  if (space.isHugetlbfs) {
    const arenaBytes = roundUp(request.capacityBytes, space.blockSizeBytes);
    checkHugePagePool(arenaBytes, space.blockSizeBytes, directory);
    if (arenaBytes > space.freeBytes) {
      throw new MemoryBackingError(
        "HUGE_PAGES_UNAVAILABLE",
        `The hugetlbfs mount ${directory} can hold ${formatBytesCompact(space.freeBytes)} more but the arena needs ${formatBytesCompact(arenaBytes)} (-m ${request.capacityBytes} rounded up to ${formatBytesCompact(space.blockSizeBytes)} pages). ` +
          `Remount it with a larger size= (\`mount -o remount,size=${shmSizeFlag(arenaBytes).toUpperCase()} ${directory}\`) or lower -m to at most ${space.freeBytes}.`,
      );
    }
    return;
  }
  const arenaBytes = roundUp(request.capacityBytes, SYSTEM_PAGE_SIZE);
  if (arenaBytes > space.freeBytes)
    throw noSpaceError(directory, arenaBytes, space.freeBytes, space.totalBytes);
}

function noSpaceError(
  directory: string,
  arenaBytes: number,
  freeBytes: number,
  totalBytes: number,
  cause?: unknown,
): MemoryBackingError {
  const inShm = directory.replace(/\/+$/, "") === "/dev/shm";
  const grow = inShm
    ? `give the container a larger /dev/shm (\`docker run --shm-size=${shmSizeFlag(arenaBytes)}\`, \`podman run --shm-size=${shmSizeFlag(arenaBytes)}\`, or \`shm_size: ${shmSizeFlag(arenaBytes)}\` in compose.yaml; on a host: \`mount -o remount,size=${shmSizeFlag(arenaBytes).toUpperCase()} /dev/shm\`)`
    : `give ${directory} more room (for tmpfs: \`mount -o remount,size=${shmSizeFlag(arenaBytes).toUpperCase()} ${directory}\`; in a container: --shm-size / shm_size for /dev/shm)`;
  return new MemoryBackingError(
    "ARENA_NO_SPACE",
    `-d ${directory} has ${formatBytesCompact(freeBytes)} free (of ${formatBytesCompact(totalBytes)}) but the arena needs ${formatBytesCompact(arenaBytes)} (-m). ` +
      `Either ${grow}, or lower -m to at most ${freeBytes} bytes (${formatBytesCompact(freeBytes)}). ` +
      "The store refuses to start rather than crash with SIGBUS when the mount fills up.",
    cause === undefined ? undefined : { cause },
  );
}

interface PoolState {
  /** Pages of this size the kernel has (nr_hugepages). */
  totalPages: number;
  /** Free and not reserved by another mapping. */
  availablePages: number;
}

/** The pool of huge pages of one size: sysfs for that size, /proc/meminfo when it is the default size. */
function readPool(pageSizeBytes: number): PoolState | null {
  const dir =
    pageSizeBytes === HUGE_PAGE_SIZE
      ? HUGE_2MB_SYSFS
      : `/sys/kernel/mm/hugepages/hugepages-${pageSizeBytes / 1024}kB`;
  try {
    const read = (name: string) => Number(readFileSync(`${dir}/${name}`, "utf8").trim());
    const total = read("nr_hugepages");
    const free = read("free_hugepages");
    const reserved = read("resv_hugepages");
    if ([total, free, reserved].every(Number.isSafeInteger)) {
      return { totalPages: total, availablePages: Math.max(0, free - reserved) };
    }
  } catch {
    // No sysfs entry for this size: fall back to /proc/meminfo (default size only).
  }
  const pool = hugePagePool();
  if (pool === null || pool.pageSizeBytes !== pageSizeBytes) return null;
  return { totalPages: pool.totalPages, availablePages: pool.availablePages };
}

function checkHugePagePool(arenaBytes: number, pageSizeBytes: number, where: string): void {
  const pool = readPool(pageSizeBytes);
  const pageLabel = formatBytesCompact(pageSizeBytes);
  if (pool === null) {
    throw new MemoryBackingError(
      "HUGE_PAGES_UNAVAILABLE",
      `-h needs ${pageLabel} huge pages but this kernel offers none (no ${HUGE_2MB_SYSFS}). Use a kernel with CONFIG_HUGETLBFS, or run without -h.`,
    );
  }
  const neededPages = arenaBytes / pageSizeBytes;
  if (pool.availablePages >= neededPages) return;
  const missing = neededPages - pool.availablePages;
  const sysctlFile =
    pageSizeBytes === HUGE_PAGE_SIZE
      ? "/proc/sys/vm/nr_hugepages"
      : `/sys/kernel/mm/hugepages/hugepages-${pageSizeBytes / 1024}kB/nr_hugepages`;
  throw new MemoryBackingError(
    "HUGE_PAGES_UNAVAILABLE",
    `-h (${where}) needs ${neededPages} free ${pageLabel} huge pages for a ${formatBytesCompact(arenaBytes)} arena but only ${pool.availablePages} are free (nr_hugepages is ${pool.totalPages}). ` +
      `Reserve ${missing} more as root on the host: \`echo ${pool.totalPages + missing} > ${sysctlFile}\` ` +
      `(or \`sysctl -w vm.nr_hugepages=${pool.totalPages + missing}\`; to keep it across reboots, vm.nr_hugepages in /etc/sysctl.conf), then check HugePages_Free in /proc/meminfo; or lower -m, or run without -h.`,
  );
}

/** Turns a failure to create or map the arena into the same kind of message the checks give. */
function explainCreateFailure(request: ArenaRequest, error: unknown): Error {
  if (error instanceof MemoryBackingError) return error;
  const code = error instanceof SystemError ? error.errnoName : "";
  if (request.hugePages === true && (code === "ENOMEM" || code === "EINVAL" || code === "ENOSPC")) {
    const arenaBytes = roundUp(request.capacityBytes, HUGE_PAGE_SIZE);
    try {
      checkHugePagePool(arenaBytes, HUGE_PAGE_SIZE, request.directory ?? "memfd");
    } catch (explained) {
      if (explained instanceof MemoryBackingError) return explained;
    }
    return new MemoryBackingError(
      "HUGE_PAGES_UNAVAILABLE",
      `Could not get ${formatBytesCompact(arenaBytes)} of huge pages: ${(error as Error).message}. Check HugePages_Free in /proc/meminfo and raise /proc/sys/vm/nr_hugepages, or run without -h.`,
      { cause: error },
    );
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** fallocate the arena file so no later page touch can SIGBUS; returns the bytes reserved. */
function reserve(arena: ArenaFile, log: Logger): number {
  const directory = arena.path as string;
  const startNs = Bun.nanoseconds();
  try {
    reserveArenaFile(arena.fd, arena.sizeBytes);
  } catch (error) {
    const code = error instanceof SystemError ? error.errnoName : "";
    if (code === "ENOSPC" || code === "ENOMEM") {
      let space: FilesystemSpace | null = null;
      try {
        space = filesystemFreeBytes(directory);
      } catch {
        // Report what we know.
      }
      if (arena.hugePages) {
        return rethrowHugePages(arena, directory, error);
      }
      throw noSpaceError(directory, arena.sizeBytes, space?.freeBytes ?? 0, space?.totalBytes ?? 0, error);
    }
    if (code === "EOPNOTSUPP") {
      log.warn(
        { directory },
        "this filesystem cannot fallocate: the arena is not reserved, and a full filesystem would SIGBUS later",
      );
      return 0;
    }
    throw error;
  }
  log.info(
    {
      directory,
      reservedBytes: arena.sizeBytes,
      durationMs: Math.round((Bun.nanoseconds() - startNs) / 1e6),
    },
    "arena space reserved (fallocate)",
  );
  return arena.sizeBytes;
}

function rethrowHugePages(arena: ArenaFile, directory: string, error: unknown): never {
  checkHugePagePool(arena.sizeBytes, arena.pageSizeBytes, directory);
  throw new MemoryBackingError(
    "HUGE_PAGES_UNAVAILABLE",
    `Could not reserve ${formatBytesCompact(arena.sizeBytes)} of huge pages in ${directory}: ${(error as Error).message}. Raise /proc/sys/vm/nr_hugepages or the mount's size=, or lower -m.`,
    { cause: error },
  );
}

/** Faults the whole mapping in, in chunks, logging progress for large arenas. */
function prefaultArena(address: number, arena: ArenaFile, log: Logger): void {
  const total = arena.sizeBytes;
  const chunk = roundUp(PREFAULT_CHUNK_BYTES, arena.pageSizeBytes);
  const progress = total >= PREFAULT_PROGRESS_BYTES;
  const startNs = Bun.nanoseconds();
  let nextReport = 0.1;
  log.info({ arenaBytes: total }, "prefaulting the arena (--prefault)");
  for (let done = 0; done < total; ) {
    const length = Math.min(chunk, total - done);
    try {
      prefault(address + done, length);
    } catch (error) {
      throw new MemoryBackingError(
        "PREFAULT_FAILED",
        `--prefault could fault in only ${formatBytesCompact(done)} of the ${formatBytesCompact(total)} arena: ${(error as Error).message}. The machine (or the container's memory limit) cannot hold the arena: lower -m or raise the limit.`,
        { cause: error },
      );
    }
    done += length;
    if (progress && done / total >= nextReport && done < total) {
      log.info(
        {
          faultedBytes: done,
          arenaBytes: total,
          percent: Math.floor((done / total) * 100),
          elapsedMs: Math.round((Bun.nanoseconds() - startNs) / 1e6),
        },
        "prefault progress",
      );
      while (done / total >= nextReport) nextReport += 0.1;
    }
  }
  log.info(
    { faultedBytes: total, durationMs: Math.round((Bun.nanoseconds() - startNs) / 1e6) },
    "arena prefaulted",
  );
}
