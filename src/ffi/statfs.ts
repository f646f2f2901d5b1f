/** Filesystem facts through statfs(2): free space, type, block size, hugetlbfs detection. */
import { readFileSync } from "node:fs";
import { check, libc } from "./libc.ts";
import { cString, getU64, scratch } from "./struct.ts";

export const HUGETLBFS_MAGIC = 0x958458f6;
export const TMPFS_MAGIC = 0x01021994;

export interface FilesystemSpace {
  /** Bytes an unprivileged writer can still allocate (f_bavail × fragment size). */
  freeBytes: number;
  totalBytes: number;
  /** statfs f_type, e.g. TMPFS_MAGIC or HUGETLBFS_MAGIC. */
  fsType: number;
  isHugetlbfs: boolean;
  /** f_bsize: the page size on hugetlbfs, the preferred I/O size elsewhere. */
  blockSizeBytes: number;
}

// struct statfs on x86-64 is 120 bytes: f_type@0 f_bsize@8 f_blocks@16 f_bfree@24 f_bavail@32 f_files@40
// f_ffree@48 f_fsid@56 f_namelen@64 f_frsize@72 f_flags@80 f_spare[4]@88.
const STATFS_SIZE = 120;
const statfsBuffer = scratch(STATFS_SIZE);

/** statfs(directory), with hugetlbfs mounts that have no size limit reporting the free huge pages instead. */
export function filesystemFreeBytes(directory: string): FilesystemSpace {
  statfsBuffer.bytes.fill(0);
  check("statfs", libc.statfs(cString(directory, "directory"), statfsBuffer.bytes), directory);
  return decodeStatfs(statfsBuffer.view);
}

/** fstatfs(fd) decoded the same way as filesystemFreeBytes. */
export function fdFilesystem(fd: number): FilesystemSpace {
  statfsBuffer.bytes.fill(0);
  check("fstatfs", libc.fstatfs(fd, statfsBuffer.bytes));
  return decodeStatfs(statfsBuffer.view);
}

function decodeStatfs(view: DataView): FilesystemSpace {
  const fsType = getU64(view, 0);
  const blockSizeBytes = getU64(view, 8);
  const frsize = getU64(view, 72);
  const unit = frsize > 0 ? frsize : blockSizeBytes;
  const isHugetlbfs = fsType === HUGETLBFS_MAGIC;
  const blocks = getU64(view, 16);
  if (isHugetlbfs && blocks === 0) {
    // A hugetlbfs mount without size= reports 0 blocks; the pool in /proc/meminfo is the real limit.
    const pool = hugePagePool();
    if (pool !== null && pool.pageSizeBytes === blockSizeBytes) {
      return {
        freeBytes: pool.availablePages * pool.pageSizeBytes,
        totalBytes: pool.totalPages * pool.pageSizeBytes,
        fsType,
        isHugetlbfs,
        blockSizeBytes,
      };
    }
  }
  return {
    freeBytes: getU64(view, 32) * unit,
    totalBytes: blocks * unit,
    fsType,
    isHugetlbfs,
    blockSizeBytes,
  };
}

export interface HugePagePool {
  totalPages: number;
  /** Free pages not already promised to a mapping (HugePages_Free − HugePages_Rsvd). */
  availablePages: number;
  pageSizeBytes: number;
}

/** The default-size huge page pool from /proc/meminfo, or null when the kernel has none. */
export function hugePagePool(): HugePagePool | null {
  let text: string;
  try {
    text = readFileSync("/proc/meminfo", "utf8");
  } catch {
    return null;
  }
  const field = (name: string): number | null => {
    const match = new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(text);
    return match?.[1] === undefined ? null : Number(match[1]);
  };
  const total = field("HugePages_Total");
  const free = field("HugePages_Free");
  const reserved = field("HugePages_Rsvd");
  const sizeKiB = field("Hugepagesize");
  if (total === null || free === null || reserved === null || sizeKiB === null) return null;
  return { totalPages: total, availablePages: Math.max(0, free - reserved), pageSizeBytes: sizeKiB * 1024 };
}
