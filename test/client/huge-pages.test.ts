// -h end to end: a store process on 2 MiB huge pages serves a client. The test adds the pages it needs to
// the pool for its run and takes them away afterwards (test/helpers/huge-pages.ts); without root or huge
// pages it is skipped outside CI and an error under CI=true.
import { describe, expect, test } from "bun:test";
import { connect, ObjectID } from "../../src/client/index.ts";
import { hugePagesProblem, useHugePages } from "../helpers/huge-pages.ts";
import { prerequisite } from "../helpers/prerequisites.ts";
import { startLine } from "../helpers/run.ts";
import { startStoreProcess } from "../helpers/store-process.ts";

const PAGES = 4;
const hasHugePages = prerequisite("2 MiB huge pages (root, writable nr_hugepages)", hugePagesProblem());

describe.skipIf(!hasHugePages)("huge pages", () => {
  useHugePages(PAGES);

  test("-h backs the arena with 2 MiB huge pages and sizes round up to 2 MiB", async () => {
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
  });
});
