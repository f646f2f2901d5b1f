/**
 * The 2 MiB huge page pool for the tests that need it. Pages are added to what the pool holds now and the
 * same number is taken away afterwards (other processes on the machine may change the pool meanwhile:
 * never write an absolute count). useHugePages registers the reservation in beforeAll and the give-back in
 * afterAll of the calling scope, so a run that filters the tests out changes nothing.
 */
import { afterAll, beforeAll } from "bun:test";
import { accessSync, constants, existsSync, readFileSync, writeFileSync } from "node:fs";
import { HUGE_PAGE_SIZE, hugePagePool } from "../../src/ffi/memory.ts";
import { rootProblem } from "./prerequisites.ts";

const NR_HUGEPAGES = "/proc/sys/vm/nr_hugepages";
const COMPACT_MEMORY = "/proc/sys/vm/compact_memory";
const POOL_2MIB = "/sys/kernel/mm/hugepages/hugepages-2048kB";

/** Why this process cannot reserve 2 MiB huge pages (null when it can try). */
export function hugePagesProblem(): string | null {
  const root = rootProblem();
  if (root !== null) return root;
  if (!existsSync(POOL_2MIB)) return `the kernel has no 2 MiB huge pages (${POOL_2MIB} is missing)`;
  const pool = hugePagePool();
  if (pool === null) return "/proc/meminfo has no HugePages_* fields";
  if (pool.pageSizeBytes !== HUGE_PAGE_SIZE)
    return `the default huge page size is ${pool.pageSizeBytes} bytes, not ${HUGE_PAGE_SIZE}`;
  try {
    accessSync(NR_HUGEPAGES, constants.W_OK);
  } catch (error) {
    return `cannot write ${NR_HUGEPAGES} (${(error as Error).message})`;
  }
  return null;
}

function poolSize(): number {
  return Number(readFileSync(NR_HUGEPAGES, "utf8").trim());
}

/** Asks the kernel for `pages` more pages than the pool holds now; returns how many it added. */
function grow(pages: number): number {
  const before = poolSize();
  writeFileSync(NR_HUGEPAGES, String(before + pages));
  return poolSize() - before;
}

function shrink(pages: number): void {
  if (pages > 0) writeFileSync(NR_HUGEPAGES, String(Math.max(0, poolSize() - pages)));
}

/**
 * Adds `pages` 2 MiB pages to the pool and returns the function that takes them away again (once; later
 * calls do nothing). Throws, having given back what it got, when the kernel finds fewer free 2 MiB runs
 * even after compacting memory.
 */
export function reserveHugePages(pages: number): () => void {
  let added = grow(pages);
  if (added < pages) {
    // Free memory is often too fragmented for 2 MiB pages: compact it and ask for the rest.
    writeFileSync(COMPACT_MEMORY, "1");
    added += grow(pages - added);
  }
  if (added < pages) {
    shrink(added);
    throw new Error(`asked the kernel for ${pages} more 2 MiB huge pages, it added ${added}`);
  }
  let given = false;
  return () => {
    if (given) return;
    given = true;
    shrink(added);
  };
}

/** Reserves `pages` huge pages before the tests of the calling scope and gives them back after them. */
export function useHugePages(pages: number): void {
  let giveBack: (() => void) | null = null;
  beforeAll(() => {
    giveBack = reserveHugePages(pages);
  });
  afterAll(() => giveBack?.());
}
