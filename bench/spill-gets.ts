/**
 * The p99 of small gets during a spill (issue 16, target under 2 ms): a real plasma_store with a spill
 * directory; one client puts a large object and evicts it (the store spills it in its worker thread),
 * while another client gets and releases 1 KiB objects, each a full round trip to the store, until the
 * object's file is durable. The same gets on the idle store first give the baseline. A third client holds
 * the small objects, so that the evict spills the large object only.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ObjectID, type PlasmaClient } from "../src/client/index.ts";
import { SPILL_FILE_SUFFIX } from "../src/spill/format.ts";
import { startStore } from "./lib/env.ts";
import { KiB, MiB, nowNs } from "./lib/measure.ts";
import { getRelease, ids } from "./store.ts";

export interface SpillGetsResult {
  idleP99Us: number;
  duringP99Us: number;
  /** The slowest get during the spill. */
  duringMaxUs: number;
  /** Gets measured while the spill was in flight. */
  duringGets: number;
  spillMs: number;
}

/** The q-quantile (nearest rank) of `samples`. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) throw new Error("no samples");
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/** µs of one get+release that reaches the store (the Release goes out before the next get). */
async function timedGet(client: PlasmaClient, id: ObjectID): Promise<number> {
  const start = nowNs();
  await getRelease(client, id);
  const us = (nowNs() - start) / 1000;
  await new Promise((resolve) => setImmediate(resolve));
  return us;
}

export async function getsDuringSpill(
  base: string,
  spillBytes: number,
  idleGets: number,
): Promise<SpillGetsResult> {
  const dir = mkdtempSync(join(base, "plasma-bench-spill-gets-"));
  const store = await startStore(spillBytes + 64 * MiB, [
    "--spill-dir",
    dir,
    "--spill-max",
    String(2 * spillBytes),
  ]);
  const writer = await store.connect();
  const reader = await store.connect();
  const holder = await store.connect();
  try {
    const small = ids(1024);
    const payload = new Uint8Array(KiB).fill(0x11);
    for (const id of small) await reader.createAndSeal(id, payload);
    // Held by a third client, the small objects are not evictable: the evict below spills the large one only.
    await holder.getBuffers(small, { timeoutMs: 0 });
    const pick = (i: number) => small[i % small.length] as ObjectID;
    const idle: number[] = [];
    for (let i = 0; i < 2 * idleGets; i++) {
      const us = await timedGet(reader, pick(i));
      if (i >= idleGets) idle.push(us); // the first half warms up
    }
    const big = ObjectID.fromRandom();
    const buffer = await writer.create(big, spillBytes);
    buffer.fill(0x3c);
    await writer.seal(big);
    await writer.release(big);
    const file = join(dir, `${big.hex()}${SPILL_FILE_SUFFIX}`);
    const during: number[] = [];
    const start = nowNs();
    // evict answers once the spill has started; its file appears under its final name once durable.
    if ((await writer.evict(spillBytes)) < spillBytes) throw new Error("the large object was not spilled");
    for (let i = 0; !existsSync(file); i++) during.push(await timedGet(reader, pick(i)));
    const spillMs = (nowNs() - start) / 1e6;
    return {
      idleP99Us: quantile(idle, 0.99),
      duringP99Us: quantile(during, 0.99),
      duringMaxUs: quantile(during, 1),
      duringGets: during.length,
      spillMs,
    };
  } finally {
    await holder.disconnect();
    await reader.disconnect();
    await writer.disconnect();
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
