import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { fstatSync, readdirSync, statfsSync } from "node:fs";
import { ERRNO, errno, errnoName, libc, SystemError } from "../../src/ffi/libc.ts";
import {
  closeFd,
  createArenaFile,
  filesystemFreeBytes,
  MAX_VIEW_BYTES,
  mapShared,
  prefault,
  reserveArenaFile,
  residentBytes,
  SYSTEM_PAGE_SIZE,
  TMPFS_MAGIC,
  unmap,
  viewOf,
} from "../../src/ffi/memory.ts";
import { prerequisite } from "../helpers/prerequisites.ts";
import { isFdOpen, makeTempDir, mapsLineAt, openFdsMatching, removeDir, thrown } from "./helpers.ts";

const F_ADD_SEALS = 1033;
const F_GET_SEALS = 1034;
const F_SEAL_SEAL = 1;
const F_SEAL_SHRINK = 2;
const F_SEAL_GROW = 4;
const F_SEAL_WRITE = 8;
const GiB = 2 ** 30;
/** The kernel's base page size, read through sysconf by src/ffi (checked against getconf below). */
const PAGE = SYSTEM_PAGE_SIZE;

/** Mount a size-limited tmpfs (root only); the mount's directory, or why this environment cannot. */
function tryMountSmallTmpfs(sizeBytes: number): { dir: string } | { problem: string } {
  const dir = makeTempDir();
  const result = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${sizeBytes}`, "none", dir], {
    encoding: "utf8",
  });
  if (result.status === 0) return { dir };
  removeDir(dir);
  return { problem: `mount -t tmpfs failed: ${(result.stderr || result.error?.message) ?? ""}`.trim() };
}

function mountSmallTmpfs(sizeBytes: number): string | null {
  const mounted = tryMountSmallTmpfs(sizeBytes);
  return "dir" in mounted ? mounted.dir : null;
}

function unmountAndRemove(dir: string): void {
  spawnSync("umount", [dir]);
  removeDir(dir);
}

const probe = tryMountSmallTmpfs(1 << 20);
if ("dir" in probe) unmountAndRemove(probe.dir);
const canMountTmpfs = prerequisite("mounting a tmpfs (root)", "dir" in probe ? null : probe.problem);

describe("memfd arenas", () => {
  test("created with the rounded size, named, sealed against resizing", () => {
    const arena = createArenaFile({ sizeBytes: 2 * PAGE + 1, name: "ffi-test-arena" });
    try {
      expect(arena).toEqual({
        fd: arena.fd,
        sizeBytes: 3 * PAGE,
        backing: "memfd",
        path: null,
        pageSizeBytes: SYSTEM_PAGE_SIZE,
        hugePages: false,
        sealed: true,
      });
      expect(SYSTEM_PAGE_SIZE).toBe(Number(spawnSync("getconf", ["PAGESIZE"], { encoding: "utf8" }).stdout));
      expect(fstatSync(arena.fd).size).toBe(3 * PAGE);
      expect(openFdsMatching("memfd:ffi-test-arena")).toHaveLength(1);
      expect(libc.fcntl(arena.fd, F_GET_SEALS, 0)).toBe(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW);
    } finally {
      closeFd(arena.fd);
    }
    expect(isFdOpen(arena.fd)).toBe(false);
  });

  test("seals: shrinking, growing and adding seals fail with EPERM; same-size ftruncate is fine", () => {
    const arena = createArenaFile({ sizeBytes: 2 * PAGE });
    try {
      expect(libc.ftruncate(arena.fd, PAGE)).toBe(-1);
      expect(errnoName(errno())).toBe("EPERM");
      expect(libc.ftruncate(arena.fd, 4 * PAGE)).toBe(-1);
      expect(errnoName(errno())).toBe("EPERM");
      expect(libc.fcntl(arena.fd, F_ADD_SEALS, F_SEAL_WRITE)).toBe(-1);
      expect(errnoName(errno())).toBe("EPERM");
      expect(libc.ftruncate(arena.fd, 2 * PAGE)).toBe(0);
      expect(fstatSync(arena.fd).size).toBe(2 * PAGE);
    } finally {
      closeFd(arena.fd);
    }
  });

  test("two mappings of one arena see each other's writes", () => {
    const arena = createArenaFile({ sizeBytes: 1 << 20 });
    const first = mapShared(arena.fd, arena.sizeBytes);
    const second = mapShared(arena.fd, arena.sizeBytes);
    try {
      expect(first).not.toBe(second);
      const writer = new Uint8Array(viewOf(first, 300_000, 5));
      writer.set([1, 2, 3, 4, 5]);
      expect(Array.from(new Uint8Array(viewOf(second, 300_000, 5)))).toEqual([1, 2, 3, 4, 5]);
      new Uint8Array(viewOf(second, 0, arena.sizeBytes))[arena.sizeBytes - 1] = 77;
      expect(new Uint8Array(viewOf(first, arena.sizeBytes - 1, 1))[0]).toBe(77);
      const words = new Int32Array(viewOf(first, 64, 8));
      Atomics.add(words, 1, 41);
      Atomics.add(new Int32Array(viewOf(second, 64, 8)), 1, 1);
      expect(Atomics.load(words, 1)).toBe(42);
    } finally {
      unmap(first, arena.sizeBytes);
      unmap(second, arena.sizeBytes);
      closeFd(arena.fd);
    }
    expect(mapsLineAt(first)).toBeNull();
  });

  test("a read-only mapping is mapped shared without write permission", () => {
    const arena = createArenaFile({ sizeBytes: PAGE });
    const writable = mapShared(arena.fd, arena.sizeBytes);
    const readOnly = mapShared(arena.fd, arena.sizeBytes, { readOnly: true });
    try {
      expect(mapsLineAt(writable)?.split(" ")[1]).toBe("rw-s");
      expect(mapsLineAt(readOnly)?.split(" ")[1]).toBe("r--s");
      new Uint8Array(viewOf(writable, 10, 1))[0] = 9;
      expect(new Uint8Array(viewOf(readOnly, 10, 1))[0]).toBe(9);
      // Populating a read-only mapping for write is refused, never emulated by writing to it.
      const error = thrown(() => prefault(readOnly, arena.sizeBytes));
      expect(error).toBeInstanceOf(SystemError);
      expect((error as SystemError).syscall).toBe("madvise");
    } finally {
      unmap(writable, arena.sizeBytes);
      unmap(readOnly, arena.sizeBytes);
      closeFd(arena.fd);
    }
  });

  test("prefault makes every page resident and keeps existing bytes", () => {
    const arena = createArenaFile({ sizeBytes: 1 << 20 });
    const base = mapShared(arena.fd, arena.sizeBytes);
    try {
      expect(residentBytes(base, arena.sizeBytes)).toBe(0);
      new Uint8Array(viewOf(base, 5, 1))[0] = 123;
      expect(residentBytes(base, arena.sizeBytes)).toBe(PAGE);
      prefault(base, arena.sizeBytes);
      expect(residentBytes(base, arena.sizeBytes)).toBe(arena.sizeBytes);
      expect(new Uint8Array(viewOf(base, 5, 1))[0]).toBe(123);
    } finally {
      unmap(base, arena.sizeBytes);
      closeFd(arena.fd);
    }
  });

  test("MAP_POPULATE maps with every page resident", () => {
    const arena = createArenaFile({ sizeBytes: 1 << 20 });
    const base = mapShared(arena.fd, arena.sizeBytes, { populate: true });
    try {
      expect(residentBytes(base, arena.sizeBytes)).toBe(arena.sizeBytes);
    } finally {
      unmap(base, arena.sizeBytes);
      closeFd(arena.fd);
    }
  });

  test("reserveArenaFile fallocates the whole arena", () => {
    const arena = createArenaFile({ sizeBytes: 4 << 20 });
    try {
      reserveArenaFile(arena.fd, arena.sizeBytes);
      expect(fstatSync(arena.fd).blocks * 512).toBe(arena.sizeBytes);
    } finally {
      closeFd(arena.fd);
    }
  });

  test("an arena larger than 4 GiB maps and is addressable past 4 GiB", () => {
    const arena = createArenaFile({ sizeBytes: 5 * GiB });
    expect(arena.sizeBytes).toBe(5 * GiB);
    expect(fstatSync(arena.fd).size).toBe(5 * GiB);
    const first = mapShared(arena.fd, arena.sizeBytes);
    const second = mapShared(arena.fd, arena.sizeBytes);
    try {
      const far = 4.5 * GiB + 123;
      new Uint8Array(viewOf(first, far, 16)).set([0xca, 0xfe]);
      expect(Array.from(new Uint8Array(viewOf(second, far, 2)))).toEqual([0xca, 0xfe]);
      const lastByte = 5 * GiB - 1;
      new Uint8Array(viewOf(first, lastByte, 1))[0] = 0x5a;
      // One maximal (4 GiB) view covering the upper part of the arena.
      const window = new Uint8Array(viewOf(second, GiB, MAX_VIEW_BYTES));
      expect(window.byteLength).toBe(MAX_VIEW_BYTES);
      expect(window[far - GiB]).toBe(0xca);
      expect(window[lastByte - GiB]).toBe(0x5a);
      // Sparse: only the touched pages exist.
      expect(residentBytes(first, arena.sizeBytes)).toBeLessThanOrEqual(4 * PAGE);
    } finally {
      unmap(first, arena.sizeBytes);
      unmap(second, arena.sizeBytes);
      closeFd(arena.fd);
    }
  });

  test("invalid sizes are RangeErrors", () => {
    for (const sizeBytes of [0, -1, 1.5, Number.NaN, 2 ** 53]) {
      expect(() => createArenaFile({ sizeBytes })).toThrow(RangeError);
    }
    expect(() => mapShared(0, 0)).toThrow(RangeError);
    expect(() => createArenaFile({ sizeBytes: PAGE, name: "x".repeat(250) })).toThrow(RangeError);
  });
});

describe("file-backed arenas", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) removeDir(dir);
  });

  test("in /dev/shm: unlinked at once, yet usable through its fd", () => {
    const dir = makeTempDir("/dev/shm");
    dirs.push(dir);
    const arena = createArenaFile({ sizeBytes: PAGE + 1, directory: dir, name: "ffi-file" });
    try {
      expect(arena.backing).toBe("file");
      expect(arena.path).toBe(dir);
      expect(arena.sizeBytes).toBe(2 * PAGE);
      expect(arena.pageSizeBytes).toBe(PAGE);
      expect(arena.hugePages).toBe(false);
      expect(arena.sealed).toBe(false);
      expect(readdirSync(dir)).toEqual([]);
      const stat = fstatSync(arena.fd);
      expect(stat.nlink).toBe(0);
      expect(stat.size).toBe(2 * PAGE);
      expect(stat.mode & 0o777).toBe(0o600);
      expect(openFdsMatching(`${dir}/ffi-file-`)[0]).toEndWith("(deleted)");
      const first = mapShared(arena.fd, arena.sizeBytes);
      const second = mapShared(arena.fd, arena.sizeBytes);
      new Uint8Array(viewOf(first, PAGE + 100, 3)).set([7, 8, 9]);
      expect(Array.from(new Uint8Array(viewOf(second, PAGE + 100, 3)))).toEqual([7, 8, 9]);
      unmap(first, arena.sizeBytes);
      unmap(second, arena.sizeBytes);
    } finally {
      closeFd(arena.fd);
    }
  });

  test("in a missing directory: SystemError ENOENT; hugePages on tmpfs: a clear Error", () => {
    const missing = thrown(() => createArenaFile({ sizeBytes: PAGE, directory: "/nonexistent/ffi" }));
    expect(missing).toBeInstanceOf(SystemError);
    expect((missing as SystemError).errnoName).toBe("ENOENT");
    expect(() => createArenaFile({ sizeBytes: PAGE, directory: "/dev/shm", hugePages: true })).toThrow(
      /not on hugetlbfs/,
    );
  });

  test.skipIf(!canMountTmpfs)("reserveArenaFile on a full filesystem throws ENOSPC (needs root)", () => {
    const dir = mountSmallTmpfs(1 << 20);
    if (dir === null) throw new Error("mount worked in the probe but not now");
    try {
      const arena = createArenaFile({ sizeBytes: 8 << 20, directory: dir });
      try {
        const space = filesystemFreeBytes(dir);
        expect(space.totalBytes).toBe(1 << 20);
        expect(space.fsType).toBe(TMPFS_MAGIC);
        const error = thrown(() => reserveArenaFile(arena.fd, arena.sizeBytes));
        expect(error).toBeInstanceOf(SystemError);
        expect((error as SystemError).errno).toBe(ERRNO.ENOSPC);
        expect((error as SystemError).message).toStartWith(
          "fallocate failed: ENOSPC (No space left on device): could not reserve 8388608 bytes",
        );
      } finally {
        closeFd(arena.fd);
      }
    } finally {
      unmountAndRemove(dir);
    }
  });
});

describe("filesystemFreeBytes", () => {
  test("/dev/shm is tmpfs and its numbers match node's statfs", () => {
    const mine = filesystemFreeBytes("/dev/shm");
    const node = statfsSync("/dev/shm");
    expect(mine.fsType).toBe(TMPFS_MAGIC);
    expect(mine.isHugetlbfs).toBe(false);
    expect(mine.blockSizeBytes).toBe(node.bsize);
    expect(mine.totalBytes).toBe(node.blocks * node.bsize);
    expect(mine.totalBytes).toBeGreaterThan(0);
    expect(mine.freeBytes).toBeLessThanOrEqual(mine.totalBytes);
    expect(Math.abs(mine.freeBytes - node.bavail * node.bsize)).toBeLessThan(256 * 2 ** 20);
  });

  test("a missing directory is a SystemError from statfs", () => {
    const error = thrown(() => filesystemFreeBytes("/nonexistent/dir"));
    expect(error).toBeInstanceOf(SystemError);
    expect((error as SystemError).syscall).toBe("statfs");
    expect((error as SystemError).errnoName).toBe("ENOENT");
  });
});

describe("viewOf", () => {
  test("is zero-copy, allows zero length, and refuses more than 4 GiB", () => {
    const arena = createArenaFile({ sizeBytes: PAGE });
    const base = mapShared(arena.fd, arena.sizeBytes);
    try {
      const a = new Uint8Array(viewOf(base, 100, 10));
      const b = new Uint8Array(viewOf(base, 105, 5));
      a[7] = 200;
      expect(b[2]).toBe(200);
      expect(viewOf(base, 0, 0).byteLength).toBe(0);
      expect(MAX_VIEW_BYTES).toBe(2 ** 32);
      expect(() => viewOf(base, 0, MAX_VIEW_BYTES + 1)).toThrow(RangeError);
      expect(() => viewOf(base, 0, MAX_VIEW_BYTES + 1)).toThrow(/4 GiB/);
      expect(() => viewOf(base, 0, -1)).toThrow(RangeError);
    } finally {
      unmap(base, arena.sizeBytes);
      closeFd(arena.fd);
    }
  });

  test("mmap and munmap failures are SystemErrors", () => {
    const badFd = thrown(() => mapShared(987_654, PAGE));
    expect(badFd).toBeInstanceOf(SystemError);
    expect((badFd as SystemError).syscall).toBe("mmap");
    expect((badFd as SystemError).errnoName).toBe("EBADF");
    const unaligned = thrown(() => unmap(PAGE + 1, PAGE));
    expect((unaligned as SystemError).errnoName).toBe("EINVAL");
  });
});
