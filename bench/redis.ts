/** Redis baseline: redis-server on a Unix socket, Bun's built-in RedisClient. */
import type { RedisClient } from "bun";
import { type BenchOptions, type Metrics, sectionMain, startRedis } from "./lib/env.ts";
import { KiB, MiB, opsFor, pipelinedUs, sequentialUs, sizeLabel, touchedBuffer } from "./lib/measure.ts";

export const VALUE_SIZES = [100, KiB, 64 * KiB, MiB, 64 * MiB] as const;
/** Pipelined rows stop here: 64 in flight of 64 MiB would be 4 GiB on each side. */
export const PIPELINED_MAX_BYTES = MiB;
export const IN_FLIGHT = 64;
export const MULTI_GET_IDS = 1000;

const KEYS = 1024;

export async function run(options: BenchOptions): Promise<Metrics> {
  const metrics: Metrics = {};
  const redis = await startRedis();
  try {
    const client = await redis.client();
    const repeats = options.quick ? 3 : 7;
    const budget = (options.quick ? 8 : 64) * MiB;
    const keys = Array.from({ length: KEYS }, (_, i) => `k${i}`);
    for (const bytes of VALUE_SIZES) {
      // Pinned runs compare latency only: small values, sequential.
      if (options.pinned && bytes > KiB) continue;
      const label = sizeLabel(bytes);
      const value = touchedBuffer(bytes);
      const ops = opsFor(bytes, budget, options.quick ? 2 : 5, options.quick ? 2000 : 20_000);
      const key = (i: number) => keys[i % KEYS] as string;
      metrics[`redis.set.seq.${label}`] = await sequentialUs({ ops, repeats }, (i) =>
        client.set(key(i), value),
      );
      metrics[`redis.get.seq.${label}`] = await sequentialUs({ ops, repeats }, (i) =>
        client.getBuffer(key(i)),
      );
      if (!options.pinned && bytes <= PIPELINED_MAX_BYTES) {
        const pops = Math.max(ops, IN_FLIGHT * 4);
        metrics[`redis.set.p64.${label}`] = await pipelinedUs(
          { ops: pops, repeats, inFlight: IN_FLIGHT },
          (i) => client.set(key(i), value),
        );
        metrics[`redis.get.p64.${label}`] = await pipelinedUs(
          { ops: pops, repeats, inFlight: IN_FLIGHT },
          (i) => client.getBuffer(key(i)),
        );
      }
      await client.send("FLUSHALL", []);
    }
    await fillKeys(client, keys, KiB);
    const seqOps = options.quick ? 2000 : 20_000;
    metrics["redis.exists.seq.1KiB"] = await sequentialUs({ ops: seqOps, repeats }, (i) =>
      client.exists(keys[i % KEYS] as string),
    );
    if (options.pinned) return metrics;
    metrics["redis.exists.p64.1KiB"] = await pipelinedUs(
      { ops: seqOps * 2, repeats, inFlight: IN_FLIGHT },
      (i) => client.exists(keys[i % KEYS] as string),
    );
    const mgetKeys = keys.slice(0, MULTI_GET_IDS);
    metrics["redis.mget1000.1KiB"] =
      (await sequentialUs({ ops: options.quick ? 20 : 200, repeats }, () => client.send("MGET", mgetKeys))) /
      MULTI_GET_IDS;
  } finally {
    await redis.stop();
  }
  return metrics;
}

async function fillKeys(client: RedisClient, keys: readonly string[], bytes: number): Promise<void> {
  const value = touchedBuffer(bytes);
  await Promise.all(keys.map((k) => client.set(k, value)));
}

if (import.meta.main) await sectionMain(run);
