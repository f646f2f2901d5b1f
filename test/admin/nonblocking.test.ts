import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import type { EventView } from "../../src/admin/service.ts";
import { connect, ObjectID } from "../../src/client/index.ts";
import { runClientProcess } from "../helpers/store-process.ts";
import { type AdminStore, FIXTURES, pattern, startAdminStore } from "./helpers.ts";

let s: AdminStore;
beforeAll(async () => {
  s = await startAdminStore({ memory: "96MiB" });
});
afterAll(async () => {
  await s?.stop();
});

test("the data path keeps serving while a WatchEvents consumer stalls and a large ReadObject is in progress", async () => {
  const writer = await connect(s.store.socketPath);
  const bigId = ObjectID.fromRandom();
  const bigSize = 48 * 1024 * 1024;
  const big = await writer.create(bigId, bigSize);
  big.set(pattern(bigSize, 11));
  await writer.seal(bigId);
  await writer.release(bigId);
  // The creator's buffer held that reference: it had to stay reachable until the release.
  expect((big.buffer as ArrayBuffer).detached).toBe(true); // seal() detached the creator's buffer
  await writer.contains(bigId);

  // A watcher that reads nothing, and a reader that takes one 64 KiB chunk of 48 MiB and stops pulling.
  const stalledWatch = s.admin.watch();
  await stalledWatch.ready;
  const read = s.admin.readObject(bigId.hex(), { chunkSizeBytes: 64 * 1024 });
  const first = await read.next();
  expect(first.done).toBe(false);

  // Meanwhile a client process runs 300 full create/seal/get/release/delete rounds of 256 KiB.
  const rounds = 300;
  const result = await runClientProcess(
    join(FIXTURES, "churn.ts"),
    [s.store.socketPath, String(rounds), String(256 * 1024)],
    { timeoutMs: 150_000 },
  );
  expect(result.stderr).toBe("");
  expect(result.stdout.trim()).toBe(`done ${rounds}`);
  expect(result.code).toBe(0);

  // The read is still in progress (the object is held by it), and the store answers admin calls too.
  expect((await s.admin.getObject(bigId.hex())).refCount).toBe(1);
  const stats = await s.admin.stats();
  expect(stats.counters.seals).toBe(rounds + 1);
  expect(stats.counters.deletes).toBe(rounds);

  // Resume both: the read delivers every byte, the watcher every event, in order.
  const chunks = [first.value?.data ?? new Uint8Array(0)];
  for await (const chunk of { [Symbol.asyncIterator]: () => read }) chunks.push(chunk.data);
  expect(Buffer.concat(chunks).equals(Buffer.from(pattern(bigSize, 11)))).toBe(true);

  const expected = 2 + 3 * rounds; // connect, (created, sealed, deleted) per round, disconnect
  const events: EventView[] = [];
  for await (const event of stalledWatch.events) {
    if (event.client !== null && event.client.pid === s.store.proc.pid) continue; // the admin reader's session
    events.push(event);
    if (events.length === expected) break;
  }
  stalledWatch.cancel();
  expect(events[0]?.kind).toBe("EVENT_KIND_CLIENT_CONNECTED");
  expect(events[expected - 1]?.kind).toBe("EVENT_KIND_CLIENT_DISCONNECTED");
  for (let i = 0; i < rounds; i++) {
    const [created, sealed, deleted] = events.slice(1 + 3 * i, 4 + 3 * i);
    expect([created?.kind, sealed?.kind, deleted?.kind]).toEqual([
      "EVENT_KIND_OBJECT_CREATED",
      "EVENT_KIND_OBJECT_SEALED",
      "EVENT_KIND_OBJECT_DELETED",
    ]);
    expect(sealed?.object?.id).toBe(created?.object?.id as string);
    expect(deleted?.object?.id).toBe(created?.object?.id as string);
  }
  await writer.disconnect();
});
