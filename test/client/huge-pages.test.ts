import { expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { connect, ObjectID } from "../../src/client/index.ts";
import { startLine } from "../helpers/run.ts";
import { startStoreProcess } from "../helpers/store-process.ts";

const NR_HUGEPAGES = "/proc/sys/vm/nr_hugepages";
const PAGES = 4;

/** Reserves PAGES more 2 MiB pages if this machine lets us (root on Linux); returns a restore function. */
function reserveHugePages(): (() => void) | null {
  try {
    const before = Number(readFileSync(NR_HUGEPAGES, "utf8"));
    writeFileSync(NR_HUGEPAGES, String(before + PAGES));
    const freePages = () =>
      Number(/HugePages_Free:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0);
    if (freePages() < PAGES) {
      // 2 MiB runs may be free only after the kernel compacts memory.
      writeFileSync("/proc/sys/vm/compact_memory", "1");
      writeFileSync(NR_HUGEPAGES, String(before + PAGES));
    }
    const free = freePages();
    if (free < PAGES) {
      writeFileSync(NR_HUGEPAGES, String(before));
      return null;
    }
    return () => writeFileSync(NR_HUGEPAGES, String(before));
  } catch {
    return null;
  }
}

const restore = reserveHugePages();

test.skipIf(restore === null)(
  "-h backs the arena with 2 MiB huge pages and sizes round up to 2 MiB",
  async () => {
    try {
      const store = await startStoreProcess({ memory: "3MiB", args: ["-h"] });
      try {
        const start = startLine(store.output());
        expect(start).toMatchObject({
          hugePages: true,
          arenaBytes: 4 * 1024 * 1024,
          capacityBytes: 3 * 1024 * 1024,
        });
        const client = await connect(store.socketPath);
        const id = ObjectID.fromRandom();
        const buffer = await client.create(id, 2 * 1024 * 1024);
        buffer.fill(0xaa);
        await client.seal(id);
        const [view] = await client.getBuffers([id]);
        expect(view?.every((v) => v === 0xaa)).toBe(true);
        await client.disconnect();
      } finally {
        expect(await store.stop()).toBe(0);
      }
    } finally {
      restore?.();
    }
  },
);
