#!/usr/bin/env bun
/**
 * The core store's first benchmark (issue 2), runnable alone: `bun bench/core.ts [--quick]`.
 * ops/s of sequential createAndSeal of 1 KiB objects; get+release latency of 1 KiB and 256 MiB objects
 * (about equal: zero copy); put throughput of 256 MiB objects next to a plain Uint8Array.set of the same
 * size in the same run. The full suite (`bun run bench`) has the same rows among its others.
 */
import { ObjectID } from "../src/client/index.ts";
import { prefaultSupported } from "./large.ts";
import { type BenchOptions, type Metrics, sectionMain, startStore } from "./lib/env.ts";
import { GiB, KiB, MiB, median, nowNs, sequentialUs, syncUs, touchedBuffer } from "./lib/measure.ts";
import { warmUpStore } from "./lib/warm-up.ts";
import { deleteAll, ids, sequentialGetRoundTrip } from "./store.ts";

const BIG = 256 * MiB;

export async function run(options: BenchOptions): Promise<Metrics> {
  const metrics: Metrics = {};
  const repeats = options.quick ? 3 : 7;
  const ops = options.quick ? 2000 : 20_000;
  const store = await startStore(GiB, prefaultSupported() ? ["--prefault"] : []);
  const client = await store.connect({ populate: true });
  try {
    await warmUpStore(client, options.quick ? 1 : undefined);
    const small = touchedBuffer(KiB);
    const fresh = ids(ops);
    metrics["core.createAndSeal.1KiB.opsPerS"] =
      1e6 /
      (await sequentialUs({ ops, repeats, after: () => deleteAll(client, fresh) }, (i) =>
        client.createAndSeal(fresh[i] as ObjectID, small),
      ));
    const big = touchedBuffer(BIG, 3);
    const puts: number[] = [];
    for (let r = -1; r < repeats; r++) {
      const id = ObjectID.fromRandom();
      const start = nowNs();
      const buffer = await client.create(id, BIG);
      buffer.set(big);
      await client.seal(id);
      await client.release(id);
      if (r >= 0) puts.push((nowNs() - start) / 1000);
      await client.delete(id);
    }
    metrics["core.put.256MiB.GBps"] = BIG / (median(puts) * 1000);
    const copy = touchedBuffer(BIG, 4);
    metrics["core.memcpy.256MiB.GBps"] = BIG / (syncUs({ ops: 1, repeats }, () => copy.set(big)) * 1000);
    const smallId = ObjectID.fromRandom();
    const bigId = ObjectID.fromRandom();
    await client.createAndSeal(smallId, small);
    await client.createAndSeal(bigId, big);
    const gets = { ops: options.quick ? 1000 : 10_000, repeats };
    metrics["core.get.1KiB.us"] = await sequentialGetRoundTrip(client, gets, smallId);
    metrics["core.get.256MiB.us"] = await sequentialGetRoundTrip(client, gets, bigId);
  } finally {
    await client.disconnect();
    await store.stop();
  }
  return metrics;
}

if (import.meta.main) {
  if (process.argv.includes("--json")) await sectionMain(run);
  else {
    const m = await run({ quick: process.argv.includes("--quick"), pinned: false });
    const f = (v: number | undefined, digits = 1) => (v === undefined ? "—" : v.toFixed(digits));
    console.log(
      [
        "| core benchmark | figure |",
        "| --- | --- |",
        `| createAndSeal 1 KiB, sequential | ${f(m["core.createAndSeal.1KiB.opsPerS"], 0)} ops/s |`,
        `| get+release 1 KiB (a round trip each) | ${f(m["core.get.1KiB.us"])} µs |`,
        `| get+release 256 MiB (a round trip each) | ${f(m["core.get.256MiB.us"])} µs |`,
        `| put 256 MiB (create, set, seal, release; --prefault store, populated client) | ${f(m["core.put.256MiB.GBps"], 2)} GB/s |`,
        `| Uint8Array.set 256 MiB, same run | ${f(m["core.memcpy.256MiB.GBps"], 2)} GB/s |`,
      ].join("\n"),
    );
  }
}
