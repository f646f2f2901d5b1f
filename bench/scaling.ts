/**
 * Scaling: get+release with 1,000 vs 1,000,000 objects resident, the store's memory per resident object
 * (anonymous RSS and JS heap of the store process), and aggregate ops/s with 1, 4 and 16 client processes.
 */
import { join } from "node:path";
import { connect, ObjectID } from "../src/client/index.ts";
import { expectLine, type LineChild, spawnLineChild } from "./lib/child.ts";
import { type BenchOptions, type Metrics, sectionMain, startRedis, startStore } from "./lib/env.ts";
import { handoffId } from "./lib/handoff-ids.ts";
import { KiB, MiB, pipelinedUs, sequentialUs, touchedBuffer } from "./lib/measure.ts";
import { warmUpStore } from "./lib/warm-up.ts";
import { IN_FLIGHT } from "./redis.ts";
import { getRelease } from "./store.ts";

export const CLIENT_COUNTS = [1, 4, 16] as const;
/** Client processes of the write row (createAndSeal 1 KiB vs Redis SET). */
export const WRITE_CLIENTS = 16;
const SMALL_RESIDENT = 1000;
const OBJECT_BYTES = 64;

async function measureHost(
  host: LineChild,
): Promise<{ rssAnonBytes: number; heapBytes: number; objects: number }> {
  host.send("measure");
  const [rss, heap, objects] = (await host.nextLine()).split(" ").map(Number);
  return { rssAnonBytes: rss as number, heapBytes: heap as number, objects: objects as number };
}

async function resident(options: BenchOptions, metrics: Metrics): Promise<void> {
  const large = options.quick ? 100_000 : 1_000_000;
  const host = spawnLineChild(["bun", join(import.meta.dir, "workers/store-host.ts"), String(512 * MiB)]);
  try {
    const ready = await host.nextLine();
    if (!ready.startsWith("ready ")) throw new Error(`store host: ${ready}`);
    const client = await connect(ready.slice(6), { retries: 50 });
    await warmUpStore(client, options.quick ? 1 : undefined);
    const data = touchedBuffer(OBJECT_BYTES);
    const all: ObjectID[] = [];
    const fill = async (target: number) => {
      const fresh = Array.from({ length: target - all.length }, () => ObjectID.fromRandom());
      await pipelinedUs({ ops: fresh.length, repeats: 0, inFlight: IN_FLIGHT }, (i) =>
        client.createAndSeal(fresh[i] as ObjectID, data),
      );
      for (const id of fresh) all.push(id);
    };
    const measureOps = async (label: string) => {
      const repeats = options.quick ? 3 : 7;
      const n = options.quick ? 2000 : 20_000;
      // Spread over the whole population, so the lookups see the table as it is.
      const stride = Math.max(1, Math.floor(all.length / n));
      const pick = (i: number) => all[(i * stride) % all.length] as ObjectID;
      metrics[`scale.resident.get.seq.${label}`] = await sequentialUs({ ops: n, repeats }, (i) =>
        getRelease(client, pick(i)),
      );
      metrics[`scale.resident.get.p64.${label}`] = await pipelinedUs(
        { ops: n * 2, repeats, inFlight: IN_FLIGHT },
        (i) => getRelease(client, pick(i)),
      );
    };
    await fill(SMALL_RESIDENT);
    const before = await measureHost(host);
    await measureOps("small");
    await fill(large);
    const after = await measureHost(host);
    await measureOps("large");
    const added = after.objects - before.objects;
    metrics["scale.memory.rssPerObject"] = (after.rssAnonBytes - before.rssAnonBytes) / added;
    metrics["scale.memory.heapPerObject"] = (after.heapBytes - before.heapBytes) / added;
    metrics["scale.resident.largeCount"] = after.objects;
    await client.disconnect();
  } finally {
    await host.stop();
  }
}

async function clients(options: BenchOptions, metrics: Metrics): Promise<void> {
  const durationMs = options.quick ? 500 : 3000;
  const worker = join(import.meta.dir, "workers/load-client.ts");
  const store = await startStore(256 * MiB);
  const redis = await startRedis();
  try {
    const seed = 77;
    const data = touchedBuffer(KiB);
    const c = await store.connect();
    await warmUpStore(c, options.quick ? 1 : undefined);
    for (let i = 0; i < SMALL_RESIDENT; i++) await c.createAndSeal(handoffId(seed, i), data);
    await c.disconnect();
    const rc = await redis.client();
    for (let i = 0; i < SMALL_RESIDENT; i++) await rc.set(`load${i}`, data);
    const plans = [
      ...CLIENT_COUNTS.map((n) => ({ n, mode: "read", suffix: "" })),
      { n: WRITE_CLIENTS, mode: "write", suffix: ".write" },
    ];
    for (const [kind, args] of [
      ["store", [store.socketPath, String(seed)]],
      ["redis", [redis.url, "load"]],
    ] as const) {
      for (const { n, mode, suffix } of plans) {
        const children = Array.from({ length: n }, () =>
          spawnLineChild(["bun", worker, kind, ...args, String(SMALL_RESIDENT), mode]),
        );
        try {
          for (const child of children) await expectLine(child, "ready");
          for (const child of children) child.send(`go ${durationMs}`);
          let ops = 0;
          for (const child of children) ops += Number(await child.nextLine());
          metrics[`scale.clients.${kind}.${n}${suffix}`] = ops / (durationMs / 1000);
        } finally {
          await Promise.all(children.map((child) => child.stop()));
        }
      }
    }
  } finally {
    await store.stop();
    await redis.stop();
  }
}

export async function run(options: BenchOptions): Promise<Metrics> {
  const metrics: Metrics = {};
  await resident(options, metrics);
  await clients(options, metrics);
  return metrics;
}

if (import.meta.main) await sectionMain(run);
