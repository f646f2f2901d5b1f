/** This store, small and medium objects: createAndSeal, create+write+seal, get+release, contains, multi-get. */
import { ObjectID, type PlasmaClient } from "../src/client/index.ts";
import { type BenchOptions, type Metrics, sectionMain, startStore } from "./lib/env.ts";
import { GiB, KiB, MiB, opsFor, pipelinedUs, sequentialUs, sizeLabel, touchedBuffer } from "./lib/measure.ts";
import { warmUpStore } from "./lib/warm-up.ts";
import { IN_FLIGHT, MULTI_GET_IDS, PIPELINED_MAX_BYTES, VALUE_SIZES } from "./redis.ts";

/** Distinct objects cycled through by get and contains (like the 1,024 Redis keys). */
const RESIDENT = 1024;

export function ids(n: number): ObjectID[] {
  return Array.from({ length: n }, () => ObjectID.fromRandom());
}

/** Deletes objects in requests of at most 50,000 ids. */
export async function deleteAll(client: PlasmaClient, list: readonly ObjectID[]): Promise<void> {
  for (let i = 0; i < list.length; i += 50_000) await client.delete(list.slice(i, i + 50_000));
}

/** create + write + seal + release: the Plasma figure's "create+write+seal+release". */
export async function createWriteSeal(client: PlasmaClient, id: ObjectID, data: Uint8Array): Promise<void> {
  const buffer = await client.create(id, data.length);
  buffer.set(data);
  await client.seal(id);
  await client.release(id);
}

export async function getRelease(client: PlasmaClient, id: ObjectID): Promise<void> {
  const [buffer] = await client.getBuffers([id], { timeoutMs: 0 });
  if (buffer === null || buffer === undefined) throw new Error(`object ${id} is missing`);
  await client.release(id);
}

/** Median µs of get+release, sequential. */
export function sequentialGet(
  client: PlasmaClient,
  options: { ops: number; repeats: number },
  pick: (i: number) => ObjectID,
): Promise<number> {
  return sequentialUs(options, (i) => getRelease(client, pick(i)));
}

/**
 * Median µs of get+release of one object where every get asks the store: after each release the event
 * loop turns once, so the Release goes out and the client cannot serve the next get from its own holding.
 * For comparing objects of different sizes by the store's answer alone.
 */
export function sequentialGetRoundTrip(
  client: PlasmaClient,
  options: { ops: number; repeats: number },
  id: ObjectID,
): Promise<number> {
  return sequentialUs(options, async () => {
    await getRelease(client, id);
    await new Promise((resolve) => setImmediate(resolve));
  });
}

export async function run(options: BenchOptions): Promise<Metrics> {
  const metrics: Metrics = {};
  const store = await startStore(GiB);
  const client = await store.connect();
  try {
    await warmUpStore(client, options.quick ? 1 : undefined);
    const repeats = options.quick ? 3 : 7;
    const budget = (options.quick ? 8 : 64) * MiB;
    for (const bytes of VALUE_SIZES) {
      if (options.pinned && bytes > KiB) continue;
      const label = sizeLabel(bytes);
      const data = touchedBuffer(bytes);
      const ops = opsFor(bytes, budget, options.quick ? 2 : 5, options.quick ? 2000 : 20_000);
      const fresh = ids(ops);
      const cleanup = { ops, repeats, after: () => deleteAll(client, fresh) };
      metrics[`store.createAndSeal.seq.${label}`] = await sequentialUs(cleanup, (i) =>
        client.createAndSeal(fresh[i] as ObjectID, data),
      );
      metrics[`store.cws.seq.${label}`] = await sequentialUs(cleanup, (i) =>
        createWriteSeal(client, fresh[i] as ObjectID, data),
      );
      const resident = ids(Math.min(RESIDENT, Math.max(ops, 8)));
      for (const id of resident) await client.createAndSeal(id, data);
      const pick = (i: number) => resident[i % resident.length] as ObjectID;
      metrics[`store.get.seq.${label}`] = await sequentialGet(client, { ops, repeats }, pick);
      // The same object again and again: after the first get the client revives its released holding
      // (the Release frame has not gone out yet), so no round trip is made.
      if (bytes <= KiB) {
        metrics[`store.getSame.seq.${label}`] = await sequentialGet(client, { ops, repeats }, () => pick(0));
      }
      if (bytes === KiB) {
        const n = options.quick ? 2000 : 20_000;
        metrics["store.contains.seq.1KiB"] = await sequentialUs({ ops: n, repeats }, (i) =>
          client.contains(pick(i)),
        );
        if (!options.pinned) {
          metrics["store.contains.p64.1KiB"] = await pipelinedUs(
            { ops: n * 2, repeats, inFlight: IN_FLIGHT },
            (i) => client.contains(pick(i)),
          );
          const batch = resident.slice(0, MULTI_GET_IDS);
          metrics["store.mget1000.1KiB"] =
            (await sequentialUs({ ops: options.quick ? 20 : 200, repeats }, async () => {
              const buffers = await client.getBuffers(batch, { timeoutMs: 0 });
              if (buffers.some((b) => b === null)) throw new Error("multi-get missed an object");
              for (const id of batch) await client.release(id);
            })) / MULTI_GET_IDS;
        }
      }
      if (!options.pinned && bytes <= PIPELINED_MAX_BYTES) {
        const pops = Math.max(ops, IN_FLIGHT * 4);
        const many = ids(pops);
        const cleanupMany = { ops: pops, repeats, inFlight: IN_FLIGHT, after: () => deleteAll(client, many) };
        metrics[`store.createAndSeal.p64.${label}`] = await pipelinedUs(cleanupMany, (i) =>
          client.createAndSeal(many[i] as ObjectID, data),
        );
        metrics[`store.cws.p64.${label}`] = await pipelinedUs(cleanupMany, (i) =>
          createWriteSeal(client, many[i] as ObjectID, data),
        );
        metrics[`store.get.p64.${label}`] = await pipelinedUs(
          { ops: pops, repeats, inFlight: IN_FLIGHT },
          (i) => getRelease(client, pick(i)),
        );
      }
      await deleteAll(client, resident);
    }
  } finally {
    await client.disconnect();
    await store.stop();
  }
  return metrics;
}

if (import.meta.main) await sectionMain(run);
