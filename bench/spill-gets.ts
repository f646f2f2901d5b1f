/**
 * The p99 of small gets during a spill (issue 16, target under 2 ms): a real plasma_store with a spill
 * directory; one client puts a large object and evicts it (the store spills it in its worker thread),
 * while another client gets and releases 1 KiB objects, each a full round trip to the store, until the
 * object's file is durable. The same gets on the idle store first give the baseline. A third client holds
 * the small objects, so that the evict spills the large object only.
 *
 * Such gets are served from the shared-memory directory, without a round trip (issue 15): they measure
 * the client process, not the store. `throughStore` turns the directory off (`--directory-entries 0`), so
 * that every get is a request the store's thread answers. For the slowest get, `duringMaxWaitUs` and
 * `duringMaxStoreWaitUs` are how long the measuring thread and the store's thread were runnable but waiting
 * for a CPU (Linux schedstat): a stall of the host, not a store blocked on the disk.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
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
  /** Of the slowest get, µs the measuring thread waited for a CPU (undefined without /proc schedstat). */
  duringMaxWaitUs: number | undefined;
  /** Of the slowest get, µs the store's main thread waited for a CPU. */
  duringMaxStoreWaitUs: number | undefined;
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

/** ns a thread (this one, or a process's main thread) has waited on a run queue (Linux), or undefined. */
function runDelayNs(pid?: number): number | undefined {
  try {
    const path = pid === undefined ? "/proc/thread-self/schedstat" : `/proc/${pid}/schedstat`;
    return Number(readFileSync(path, "utf8").split(" ")[1]);
  } catch {
    return undefined;
  }
}

interface TimedGet {
  us: number;
  /** µs this thread, and the store's thread, were runnable but waited for a CPU during the get. */
  waitUs: number | undefined;
  storeWaitUs: number | undefined;
}

function deltaUs(before: number | undefined, after: number | undefined): number | undefined {
  return before === undefined || after === undefined ? undefined : (after - before) / 1000;
}

/** One get+release (the Release goes out before the next get), with the CPU waits during it. */
async function timedGet(client: PlasmaClient, id: ObjectID, storePid: number): Promise<TimedGet> {
  const delayBefore = runDelayNs();
  const storeBefore = runDelayNs(storePid);
  const start = nowNs();
  await getRelease(client, id);
  const us = (nowNs() - start) / 1000;
  const delayAfter = runDelayNs();
  const storeAfter = runDelayNs(storePid);
  await new Promise((resolve) => setImmediate(resolve));
  return { us, waitUs: deltaUs(delayBefore, delayAfter), storeWaitUs: deltaUs(storeBefore, storeAfter) };
}

export async function getsDuringSpill(
  base: string,
  spillBytes: number,
  idleGets: number,
  options: { throughStore?: boolean } = {},
): Promise<SpillGetsResult> {
  const dir = mkdtempSync(join(base, "plasma-bench-spill-gets-"));
  const store = await startStore(spillBytes + 64 * MiB, [
    ...(options.throughStore === true ? ["--directory-entries", "0"] : []),
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
    // Kept reachable to the end: a client releases its references when their buffers are collected, and
    // the small objects would then be spilled with the large one (and restored by the gets below).
    const held = await holder.getBuffers(small, { timeoutMs: 0 });
    const pick = (i: number) => small[i % small.length] as ObjectID;
    const idle: number[] = [];
    for (let i = 0; i < 2 * idleGets; i++) {
      const { us } = await timedGet(reader, pick(i), store.pid);
      if (i >= idleGets) idle.push(us); // the first half warms up
    }
    const big = ObjectID.fromRandom();
    const buffer = await writer.create(big, spillBytes);
    buffer.fill(0x3c);
    await writer.seal(big);
    await writer.release(big);
    const file = join(dir, `${big.hex()}${SPILL_FILE_SUFFIX}`);
    const during: number[] = [];
    let slowest: TimedGet = { us: -1, waitUs: undefined, storeWaitUs: undefined };
    const start = nowNs();
    // evict answers once the spill has started; its file appears under its final name once durable.
    if ((await writer.evict(spillBytes)) < spillBytes) throw new Error("the large object was not spilled");
    for (let i = 0; !existsSync(file); i++) {
      const got = await timedGet(reader, pick(i), store.pid);
      during.push(got.us);
      if (got.us > slowest.us) slowest = got;
    }
    const spillMs = (nowNs() - start) / 1e6;
    if (held.some((buffer) => buffer === null)) throw new Error("a small object was not held");
    return {
      idleP99Us: quantile(idle, 0.99),
      duringP99Us: quantile(during, 0.99),
      duringMaxUs: quantile(during, 1),
      duringMaxWaitUs: slowest.waitUs,
      duringMaxStoreWaitUs: slowest.storeWaitUs,
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
