/**
 * Cross-process handoff, end to end: process B is already waiting (in get, or Redis BLPOP); process A
 * (this one) puts the object; the figure is the time from A starting the put to B holding the data.
 */
import { join } from "node:path";
import { expectLine, spawnLineChild } from "./lib/child.ts";
import { monotonicNs } from "./lib/clock.ts";
import { type BenchOptions, type Metrics, sectionMain, startRedis, startStore } from "./lib/env.ts";
import { handoffId } from "./lib/handoff-ids.ts";
import { GiB, KiB, MiB, median, sizeLabel, touchedBuffer } from "./lib/measure.ts";
import { warmUpStore } from "./lib/warm-up.ts";

export const HANDOFF_SIZES = [KiB, 64 * MiB] as const;
const RECEIVER = join(import.meta.dir, "workers/handoff-receiver.ts");
/** Pause before each put so B is surely blocked waiting (and asleep, as a real consumer would be). */
const PAUSE_MS = 2;

async function handoff(args: string[], count: number, put: (i: number) => Promise<unknown>): Promise<number> {
  const receiver = spawnLineChild(["bun", RECEIVER, ...args, String(count)]);
  try {
    await expectLine(receiver, "ready");
    await Bun.sleep(20);
    const starts: number[] = [];
    for (let i = 0; i < count; i++) {
      await Bun.sleep(PAUSE_MS);
      starts.push(monotonicNs());
      await put(i);
    }
    const arrivals = JSON.parse(await receiver.nextLine()) as number[];
    return median(starts.map((start, i) => ((arrivals[i] as number) - start) / 1000));
  } finally {
    await receiver.stop();
  }
}

export async function run(options: BenchOptions): Promise<Metrics> {
  const metrics: Metrics = {};
  const sizes = options.pinned ? [KiB] : HANDOFF_SIZES;
  const store = await startStore(GiB);
  const client = await store.connect();
  const redis = await startRedis();
  try {
    await warmUpStore(client, options.quick ? 1 : undefined);
    const rc = await redis.client();
    let seed = 1;
    for (const bytes of sizes) {
      const label = sizeLabel(bytes);
      const data = touchedBuffer(bytes);
      const count = bytes >= MiB ? (options.quick ? 3 : 10) : options.quick ? 50 : 300;
      const s = seed++;
      metrics[`handoff.store.${label}`] = await handoff(
        ["store", store.socketPath, String(s)],
        count,
        async (i) => {
          await client.createAndSeal(handoffId(s, i), data);
        },
      );
      for (let i = 0; i < count; i++) await client.delete(handoffId(s, i));
      metrics[`handoff.redis.${label}`] = await handoff(["redis", redis.url, `handoff-${s}`], count, (_i) =>
        rc.rpush(`handoff-${s}`, data),
      );
    }
  } finally {
    await client.disconnect();
    await store.stop();
    await redis.stop();
  }
  return metrics;
}

if (import.meta.main) await sectionMain(run);
