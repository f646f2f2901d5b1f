// Walkthrough §10 "Using Plasma with huge pages":
//
//   plasma_store -s /tmp/plasma -m 10000000000 -d /mnt/hugepages -h
//
// This example starts its own small store with huge pages (MFD_HUGETLB), puts and gets an array through
// it, and stops it. It needs 2 MiB pages reserved: as root, `echo 64 > /proc/sys/vm/nr_hugepages`.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "bun-plasma";
import { startStore } from "bun-plasma/store";
import { silentLogger } from "../src/log.ts";

const dir = mkdtempSync(join(tmpdir(), "plasma-huge-"));
try {
  let store: Awaited<ReturnType<typeof startStore>>;
  try {
    store = await startStore({
      memoryBytes: 64 * 1024 * 1024,
      socketPath: join(dir, "plasma.sock"),
      hugePages: true,
      logger: silentLogger,
    });
  } catch (error) {
    console.log(`huge pages are not available here: ${(error as Error).message}`);
    process.exit(0);
  }
  try {
    const client = await connect(store.socketPath);
    const id = await client.put(Float64Array.from({ length: 1024 }, (_, i) => i));
    const back = (await client.get(id)) as Float64Array;
    console.log(
      `huge-page store: capacity ${client.capacityBytes} bytes, page size ${store.memoryAccounting().pageSizeBytes} bytes`,
    );
    console.log(
      `put/get through huge pages: ${back.length} elements, sum ${back.reduce((a, b) => a + b, 0)}`,
    );
    await client.disconnect();
  } finally {
    await store.stop();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
