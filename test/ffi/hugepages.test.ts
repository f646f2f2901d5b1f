/**
 * Huge page arenas. They need a 2 MiB huge page pool: the tests add 8 pages to it for their run and take
 * them away afterwards (test/helpers/huge-pages.ts). Without root or huge pages they are skipped outside CI
 * and an error under CI=true.
 *
 * A MFD_HUGETLB memfd is sealed like any memfd (the kernel supports seals on hugetlbfs memfds since Linux
 * 4.16): the README promises `-h` a sealed arena, and the first test holds it to that.
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { errno, errnoName, libc, SystemError } from "../../src/ffi/libc.ts";
import {
  closeFd,
  createArenaFile,
  filesystemFreeBytes,
  HUGE_PAGE_SIZE,
  HUGETLBFS_MAGIC,
  hugePagePool,
  mapShared,
  reserveArenaFile,
  unmap,
  viewOf,
} from "../../src/ffi/memory.ts";
import { hugePagesProblem, useHugePages } from "../helpers/huge-pages.ts";
import { prerequisite } from "../helpers/prerequisites.ts";
import { makeTempDir, removeDir } from "./helpers.ts";

const PAGES_NEEDED = 8;
const MiB = 2 ** 20;
const F_GET_SEALS = 1034;
const F_SEAL_SEAL = 1;
const F_SEAL_SHRINK = 2;
const F_SEAL_GROW = 4;

const hasHugePages = prerequisite("2 MiB huge pages (root, writable nr_hugepages)", hugePagesProblem());

/** KernelPageSize of the mapping at `address` from /proc/self/smaps, in bytes. */
function kernelPageSize(address: number): number | null {
  const text = readFileSync("/proc/self/smaps", "utf8");
  const start = text.indexOf(`\n${address.toString(16)}-`);
  if (start < 0) return null;
  const match = /KernelPageSize:\s+(\d+) kB/.exec(text.slice(start));
  return match?.[1] === undefined ? null : Number(match[1]) * 1024;
}

describe.skipIf(!hasHugePages)("huge page arenas", () => {
  useHugePages(PAGES_NEEDED);

  test(`an MFD_HUGETLB memfd arena maps with 2 MiB pages and is sealed against resizing`, () => {
    const arena = createArenaFile({ sizeBytes: 3 * MiB, hugePages: true, name: "ffi-huge" });
    expect(arena.backing).toBe("memfd");
    expect(arena.hugePages).toBe(true);
    expect(arena.pageSizeBytes).toBe(2 * MiB);
    expect(arena.sizeBytes).toBe(4 * MiB);
    const first = mapShared(arena.fd, arena.sizeBytes);
    const second = mapShared(arena.fd, arena.sizeBytes);
    try {
      reserveArenaFile(arena.fd, arena.sizeBytes);
      expect(kernelPageSize(first)).toBe(2 * MiB);
      new Uint8Array(viewOf(first, 2 * MiB + 5, 3)).set([1, 2, 3]);
      expect(Array.from(new Uint8Array(viewOf(second, 2 * MiB + 5, 3)))).toEqual([1, 2, 3]);
      expect(arena.sealed).toBe(true);
      expect(libc.fcntl(arena.fd, F_GET_SEALS, 0)).toBe(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW);
      expect(libc.ftruncate(arena.fd, 2 * MiB)).toBe(-1);
      expect(errnoName(errno())).toBe("EPERM");
    } finally {
      unmap(first, arena.sizeBytes);
      unmap(second, arena.sizeBytes);
      closeFd(arena.fd);
    }
  });

  test(`reserving more huge pages than the pool holds is ENOSPC`, () => {
    const pool = hugePagePool();
    if (pool === null) throw new Error("pool vanished");
    const arena = createArenaFile({ sizeBytes: (pool.totalPages + 1) * HUGE_PAGE_SIZE, hugePages: true });
    try {
      let error: unknown;
      try {
        reserveArenaFile(arena.fd, arena.sizeBytes);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(SystemError);
      expect((error as SystemError).errnoName).toBe("ENOSPC");
    } finally {
      closeFd(arena.fd);
    }
  });

  test(`a file arena on a hugetlbfs mount`, () => {
    const dir = makeTempDir();
    const mounted = spawnSync("mount", ["-t", "hugetlbfs", "none", dir]).status === 0;
    try {
      if (!mounted) throw new Error(`could not mount hugetlbfs on ${dir}`);
      const space = filesystemFreeBytes(dir);
      expect(space.isHugetlbfs).toBe(true);
      expect(space.fsType).toBe(HUGETLBFS_MAGIC);
      expect(space.blockSizeBytes).toBe(2 * MiB);
      expect(space.freeBytes).toBeGreaterThanOrEqual(2 * MiB);
      const arena = createArenaFile({ sizeBytes: 1, directory: dir, hugePages: true });
      try {
        expect(arena).toMatchObject({
          sizeBytes: 2 * MiB,
          backing: "hugetlbfs",
          path: dir,
          pageSizeBytes: 2 * MiB,
          hugePages: true,
          sealed: false,
        });
        expect(readdirSync(dir)).toEqual([]);
        const base = mapShared(arena.fd, arena.sizeBytes);
        new Uint8Array(viewOf(base, 2 * MiB - 1, 1))[0] = 42;
        expect(new Uint8Array(viewOf(base, 2 * MiB - 1, 1))[0]).toBe(42);
        expect(kernelPageSize(base)).toBe(2 * MiB);
        unmap(base, arena.sizeBytes);
      } finally {
        closeFd(arena.fd);
      }
    } finally {
      if (mounted) spawnSync("umount", [dir]);
      removeDir(dir);
    }
  });
});
