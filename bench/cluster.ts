/**
 * The cluster (issue 14), against baselines measured in the same run: a private etcd and five stores
 * (bench/lib/cluster-stores.ts). Pulls of 64 MiB and 1 GiB against raw loopback TCP (bench/cluster-pull.ts;
 * `--quick` pulls 64 MiB only); a remote get of 1 KiB (directory lookup + pull) against a local get served
 * from the shared-memory directory and one served over the socket (`--directory-entries 0`); and
 * createAndSeal of 1 KiB with the cluster on against off. See docs/performance.md for what each row is.
 */
import type { ObjectID } from "../src/client/index.ts";
import { measurePulls } from "./cluster-pull.ts";
import { type BenchCluster, SOURCE_NODE, startBenchCluster, waitRegistered } from "./lib/cluster-stores.ts";
import { type BenchOptions, type Metrics, sectionMain } from "./lib/env.ts";
import { GiB, KiB, MiB, median, sequentialUs, touchedBuffer } from "./lib/measure.ts";
import { warmUpStore } from "./lib/warm-up.ts";
import { deleteAll, getRelease, ids, sequentialGet } from "./store.ts";

/** Remote get+release of 1 KiB on the prefault receiver, then local gets of the same (now local) objects. */
async function remoteGets(cluster: BenchCluster, ops: number, repeats: number): Promise<Metrics> {
  const data = touchedBuffer(KiB);
  const { source, prefault } = cluster;
  let fresh: ObjectID[] = [];
  const remoteUs = await sequentialUs(
    {
      ops,
      repeats,
      before: async () => {
        fresh = ids(ops);
        for (const id of fresh) await source.client.createAndSeal(id, data);
        await waitRegistered(prefault.client, fresh, SOURCE_NODE);
      },
      after: async () => {
        await deleteAll(source.client, fresh);
        await new Promise((resolve) => setImmediate(resolve));
        await deleteAll(prefault.client, fresh);
      },
    },
    (i) => getRelease(prefault.client, fresh[i] as ObjectID),
  );
  return { "cluster.remoteGet.1KiB": remoteUs };
}

/** get+release of 1 KiB local objects: from the directory (cluster store) and over the socket. */
async function localGets(cluster: BenchCluster, ops: number, repeats: number): Promise<Metrics> {
  const data = touchedBuffer(KiB);
  const metrics: Metrics = {};
  for (const [key, target] of [
    ["cluster.localGet.directory.1KiB", cluster.prefault],
    ["cluster.localGet.socket.1KiB", cluster.socketOnly],
  ] as const) {
    const resident = ids(1024);
    for (const id of resident) await target.client.createAndSeal(id, data);
    const pick = (i: number) => resident[i % resident.length] as ObjectID;
    metrics[key] = await sequentialGet(target.client, { ops, repeats }, pick);
    await new Promise((resolve) => setImmediate(resolve));
    await deleteAll(target.client, resident);
  }
  return metrics;
}

/** createAndSeal 1 KiB, cluster on (the source) and off, alternating round by round. */
async function sealLatency(cluster: BenchCluster, ops: number, rounds: number): Promise<Metrics> {
  const data = touchedBuffer(KiB);
  const samples: Record<"on" | "off", number[]> = { on: [], off: [] };
  for (let round = 0; round < rounds; round++) {
    for (const [mode, target] of [
      ["on", cluster.source],
      ["off", cluster.off],
    ] as const) {
      const fresh = ids(ops);
      const us = await sequentialUs({ ops, repeats: 1, after: () => deleteAll(target.client, fresh) }, (i) =>
        target.client.createAndSeal(fresh[i] as ObjectID, data),
      );
      samples[mode].push(us);
    }
  }
  return { "cluster.seal.on.1KiB": median(samples.on), "cluster.seal.off.1KiB": median(samples.off) };
}

export async function run(options: BenchOptions): Promise<Metrics> {
  const { quick } = options;
  const cluster = await startBenchCluster(quick ? 256 * MiB : GiB + 256 * MiB);
  try {
    for (const s of [cluster.source, cluster.prefault, cluster.off, cluster.socketOnly])
      await warmUpStore(s.client, quick ? 1 : undefined);
    const metrics: Metrics = {};
    Object.assign(metrics, await sealLatency(cluster, quick ? 2000 : 10_000, quick ? 3 : 7));
    Object.assign(metrics, await remoteGets(cluster, quick ? 50 : 300, quick ? 2 : 5));
    Object.assign(metrics, await localGets(cluster, quick ? 2000 : 20_000, quick ? 3 : 7));
    Object.assign(metrics, await measurePulls(cluster, 64 * MiB, quick ? 3 : 9));
    if (!quick) Object.assign(metrics, await measurePulls(cluster, GiB, 3));
    return metrics;
  } finally {
    await cluster.stop();
  }
}

if (import.meta.main) await sectionMain(run);
