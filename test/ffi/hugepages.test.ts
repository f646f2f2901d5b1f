/**
 * Huge page arenas. These need a huge page pool: as root the test reserves 8 extra 2 MiB pages through
 * /proc/sys/vm/nr_hugepages and restores the old value afterwards; elsewhere the tests are skipped.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
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
import { makeTempDir, removeDir } from "./helpers.ts";

const NR_HUGEPAGES = "/proc/sys/vm/nr_hugepages";
const PAGES_NEEDED = 8;
const MiB = 2 ** 20;

type Setup = { ok: true; restore: () => void } | { ok: false; reason: string };

function reserveHugePages(): Setup {
  const pool = hugePagePool();
  if (pool === null || pool.pageSizeBytes !== HUGE_PAGE_SIZE)
    return { ok: false, reason: "no 2 MiB huge pages" };
  if (pool.availablePages >= PAGES_NEEDED) return { ok: true, restore: () => {} };
  let original: number;
  try {
    original = Number(readFileSync(NR_HUGEPAGES, "utf8").trim());
    writeFileSync(NR_HUGEPAGES, String(original + PAGES_NEEDED - pool.availablePages));
  } catch (error) {
    return { ok: false, reason: `cannot write ${NR_HUGEPAGES} (${(error as Error).message})` };
  }
  const restore = () => writeFileSync(NR_HUGEPAGES, String(original));
  let after = hugePagePool();
  if (after === null || after.availablePages < PAGES_NEEDED) {
    // Free 2 MiB runs may exist only after the kernel compacts memory: compact and ask again.
    try {
      writeFileSync("/proc/sys/vm/compact_memory", "1");
      writeFileSync(NR_HUGEPAGES, String(original + PAGES_NEEDED - pool.availablePages));
    } catch {
      // Not allowed here: the check below reports what the kernel gave.
    }
    after = hugePagePool();
  }
  if (after === null || after.availablePages < PAGES_NEEDED) {
    restore();
    return { ok: false, reason: `the kernel reserved only ${after?.availablePages ?? 0} huge pages` };
  }
  return { ok: true, restore };
}

const setup = reserveHugePages();
const skipped = !setup.ok;
const why = setup.ok ? "" : ` [skipped: ${setup.reason}]`;
afterAll(() => {
  if (setup.ok) setup.restore();
});

/** KernelPageSize of the mapping at `address` from /proc/self/smaps, in bytes. */
function kernelPageSize(address: number): number | null {
  const text = readFileSync("/proc/self/smaps", "utf8");
  const start = text.indexOf(`\n${address.toString(16)}-`);
  if (start < 0) return null;
  const match = /KernelPageSize:\s+(\d+) kB/.exec(text.slice(start));
  return match?.[1] === undefined ? null : Number(match[1]) * 1024;
}

describe("huge page arenas", () => {
  test.skipIf(skipped)(`an MFD_HUGETLB memfd arena maps with 2 MiB pages${why}`, () => {
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
      if (arena.sealed) {
        expect(libc.ftruncate(arena.fd, 2 * MiB)).toBe(-1);
        expect(errnoName(errno())).toBe("EPERM");
      }
    } finally {
      unmap(first, arena.sizeBytes);
      unmap(second, arena.sizeBytes);
      closeFd(arena.fd);
    }
  });

  test.skipIf(skipped)(`reserving more huge pages than the pool holds is ENOSPC${why}`, () => {
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

  test.skipIf(skipped)(`a file arena on a hugetlbfs mount${why}`, () => {
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
