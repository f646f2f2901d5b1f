/**
 * Large objects: put throughput (256 MiB, 1 GiB) with default pages, a prefaulted arena and huge pages,
 * with one copy thread and with parallel copy; get latency of 1 KiB vs 256 MiB vs 1 GiB (zero copy).
 */
import { ObjectID, type PlasmaClient } from "../src/client/index.ts";
import { USAGE } from "../src/daemon/config.ts";
import { type BenchOptions, type Metrics, reserveHugePages, sectionMain, startStore } from "./lib/env.ts";
import { GiB, KiB, MiB, median, nowNs, sizeLabel, touchedBuffer } from "./lib/measure.ts";
import { getRelease, ids, sequentialGetRoundTrip } from "./store.ts";

export const LARGE_SIZES = [256 * MiB, GiB] as const;
export const COPY_THREADS = 2;

/** One put: create, copy (client.copyInto: parallel when the client has copyThreads), seal, release. µs. */
async function timedPut(client: PlasmaClient, id: ObjectID, data: Uint8Array): Promise<number> {
  const start = nowNs();
  const buffer = await client.create(id, data.length);
  await client.copyInto(buffer, data);
  await client.seal(id);
  await client.release(id);
  return (nowNs() - start) / 1000;
}

/** Median µs of `repeats` puts of the same size, each deleted before the next (reusing its pages). */
async function warmPuts(client: PlasmaClient, data: Uint8Array, repeats: number): Promise<number> {
  const samples: number[] = [];
  for (let r = -1; r < repeats; r++) {
    const id = ObjectID.fromRandom();
    const us = await timedPut(client, id, data);
    await client.delete(id);
    if (r >= 0) samples.push(us);
  }
  return median(samples);
}

export function prefaultSupported(): boolean {
  return USAGE.includes("--prefault");
}

export async function run(options: BenchOptions): Promise<Metrics> {
  const metrics: Metrics = {};
  const repeats = options.quick ? 2 : 5;
  const sources = new Map(LARGE_SIZES.map((bytes) => [bytes, touchedBuffer(bytes, 7)] as const));
  const arenaBytes = GiB + 512 * MiB;

  // Default pages: every put lands in never-touched pages (nothing is deleted), the cold case.
  {
    const store = await startStore(2 * GiB + 256 * MiB);
    const client = await store.connect();
    try {
      for (const bytes of LARGE_SIZES) {
        const count = bytes >= GiB ? 1 : options.quick ? 1 : 3;
        const samples: number[] = [];
        for (let i = 0; i < count; i++)
          samples.push(await timedPut(client, ObjectID.fromRandom(), sources.get(bytes) as Uint8Array));
        metrics[`large.put.cold.${sizeLabel(bytes)}`] = median(samples);
      }
    } finally {
      await client.disconnect();
      await store.stop();
    }
  }

  // A prefaulted arena (--prefault) and a client that populates its mapping: the warm case.
  {
    const store = await startStore(arenaBytes, prefaultSupported() ? ["--prefault"] : []);
    const client = await store.connect({ populate: true });
    const parallel = await store.connect({ populate: true, copyThreads: COPY_THREADS });
    try {
      for (const bytes of LARGE_SIZES) {
        const data = sources.get(bytes) as Uint8Array;
        metrics[`large.put.prefault.${sizeLabel(bytes)}`] = await warmPuts(client, data, repeats);
        metrics[`large.put.parallel.${sizeLabel(bytes)}`] = await warmPuts(parallel, data, repeats);
      }
      // Get latency: zero copy, so the size should not matter.
      const small = ids(64);
      for (const id of small) await client.createAndSeal(id, touchedBuffer(KiB));
      const big = new Map<number, ObjectID>();
      for (const bytes of LARGE_SIZES) {
        const id = ObjectID.fromRandom();
        await timedPut(client, id, sources.get(bytes) as Uint8Array);
        big.set(bytes, id);
      }
      const ops = options.quick ? 1000 : 10_000;
      const gets = { ops, repeats: options.quick ? 3 : 7 };
      // Every get is a round trip to the store for both sizes (the same object again and again would be
      // served by the client itself after the first get).
      metrics["large.get.1KiB"] = await sequentialGetRoundTrip(client, gets, small[0] as ObjectID);
      for (const [bytes, id] of big)
        metrics[`large.get.${sizeLabel(bytes)}`] = await sequentialGetRoundTrip(client, gets, id);
    } finally {
      await parallel.disconnect();
      await client.disconnect();
      await store.stop();
    }
  }

  // Huge pages (2 MiB): reserve them for the run (root only), restore the setting after.
  const restore = reserveHugePages(Math.ceil(arenaBytes / (2 * MiB)) + 8);
  if (restore === null) {
    console.error(
      "bench: cannot reserve huge pages (needs root and unfragmented memory); huge-page rows are left empty",
    );
  } else {
    try {
      const store = await startStore(arenaBytes, ["-h"]);
      const client = await store.connect();
      try {
        for (const bytes of LARGE_SIZES)
          metrics[`large.put.huge.${sizeLabel(bytes)}`] = await warmPuts(
            client,
            sources.get(bytes) as Uint8Array,
            repeats,
          );
      } finally {
        await client.disconnect();
        await store.stop();
      }
    } finally {
      restore();
    }
  }
  return metrics;
}

export { getRelease };

if (import.meta.main) await sectionMain(run);
