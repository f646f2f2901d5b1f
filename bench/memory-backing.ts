/**
 * `bun bench/memory-backing.ts [--quick] [--json]`: what `--prefault` (store) and `populate` (client,
 * MAP_POPULATE) buy, each against the default and together. Each sample is a fresh store, so every put
 * lands in pages nobody touched yet (the first put after start-up):
 *
 * - `backing.start.<config>`: ms from spawning plasma_store to its socket being ready
 * - `backing.connect.<config>`: ms for connect() (MAP_POPULATE does its work here)
 * - `backing.firstPut.<config>`: ms to create, write every byte of, and seal one object
 * - `backing.firstPut.<config>.GBps`: the same as throughput
 *
 * Configs: default, prefault (store --prefault), populate (client populate), both.
 */
import { ObjectID } from "../src/client/index.ts";
import { type BenchOptions, type Metrics, sectionMain, startStore } from "./lib/env.ts";
import { MiB, median, nowNs, touchedBuffer } from "./lib/measure.ts";

const CONFIGS = [
  { name: "default", storeFlags: [] as string[], populate: false },
  { name: "prefault", storeFlags: ["--prefault"], populate: false },
  { name: "populate", storeFlags: [], populate: true },
  { name: "both", storeFlags: ["--prefault"], populate: true },
] as const;

export async function run(options: BenchOptions): Promise<Metrics> {
  const objectBytes = (options.quick ? 64 : 256) * MiB;
  const arenaBytes = objectBytes + 64 * MiB;
  const repeats = options.quick ? 1 : 3;
  const data = touchedBuffer(objectBytes, 3);
  const metrics: Metrics = {};
  for (const config of CONFIGS) {
    const starts: number[] = [];
    const connects: number[] = [];
    const puts: number[] = [];
    for (let r = 0; r < repeats; r++) {
      let t = nowNs();
      const store = await startStore(arenaBytes, [...config.storeFlags]);
      starts.push((nowNs() - t) / 1e6);
      try {
        t = nowNs();
        const client = await store.connect({ populate: config.populate });
        connects.push((nowNs() - t) / 1e6);
        try {
          const id = ObjectID.fromRandom();
          t = nowNs();
          const buffer = await client.create(id, objectBytes);
          buffer.set(data);
          await client.seal(id);
          puts.push((nowNs() - t) / 1e6);
        } finally {
          await client.disconnect();
        }
      } finally {
        await store.stop();
      }
    }
    const put = median(puts);
    metrics[`backing.start.${config.name}`] = median(starts);
    metrics[`backing.connect.${config.name}`] = median(connects);
    metrics[`backing.firstPut.${config.name}`] = put;
    metrics[`backing.firstPut.${config.name}.GBps`] = objectBytes / 1e9 / (put / 1000);
  }
  return metrics;
}

if (import.meta.main) {
  await sectionMain(async (options) => {
    const metrics = await run(options);
    if (!process.argv.includes("--json")) {
      const f = (n: number | undefined, digits = 0) => (n === undefined ? "" : n.toFixed(digits));
      console.log("| config | store start (ms) | connect (ms) | first put (ms) | GB/s |");
      console.log("| --- | ---: | ---: | ---: | ---: |");
      for (const c of CONFIGS) {
        console.log(
          `| ${c.name} | ${f(metrics[`backing.start.${c.name}`])} | ${f(metrics[`backing.connect.${c.name}`])} | ${f(metrics[`backing.firstPut.${c.name}`])} | ${f(metrics[`backing.firstPut.${c.name}.GBps`], 2)} |`,
        );
      }
    }
    return metrics;
  });
}
