/**
 * Pulls between two stores on this machine against a raw loopback TCP stream of the same bytes between
 * two Bun processes, in the same run. The object is put on the source store (default pages, touched by
 * the put); the prefault receiver gets it (directory lookup, then a pull into its `--prefault` arena) and
 * deletes its copy again; the raw stream lands in a buffer of this process that was filled first. Raw
 * and pulled runs alternate. The cold receiver (default pages, never written) gets each size once: its
 * figure includes the first-touch page faults of the arena.
 */
import { ObjectID } from "../src/client/index.ts";
import { type BenchCluster, type BenchStore, SOURCE_NODE, waitRegistered } from "./lib/cluster-stores.ts";
import type { Metrics } from "./lib/env.ts";
import { median, nowNs, sizeLabel, touchedBuffer } from "./lib/measure.ts";
import { rawReceive, startTransferHost } from "./lib/transfer-host.ts";

/** A get that must pull: the figure is from the request to the bytes in the receiver's arena. */
async function pullUs(receiver: BenchStore, id: ObjectID, sizeBytes: number): Promise<number> {
  const start = nowNs();
  const [buffer] = await receiver.client.getBuffers([id], { timeoutMs: 60_000 });
  const us = (nowNs() - start) / 1000;
  if (buffer === null || buffer === undefined || buffer.length !== sizeBytes)
    throw new Error(`the pull of ${sizeLabel(sizeBytes)} did not arrive whole`);
  await receiver.client.release(id);
  return us;
}

/** Drops the receiver's copy, so that the next get pulls again. */
async function dropCopy(receiver: BenchStore, id: ObjectID): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  await receiver.client.delete(id);
  if (await receiver.client.contains(id)) throw new Error("the receiver kept its copy");
}

/** Puts an object of `sizeBytes` on the source and waits until the directory lists it. */
async function putOnSource(cluster: BenchCluster, sizeBytes: number): Promise<ObjectID> {
  const id = ObjectID.fromRandom();
  await cluster.source.client.createAndSeal(id, touchedBuffer(sizeBytes, 0x6b));
  await waitRegistered(cluster.prefault.client, [id], SOURCE_NODE);
  return id;
}

export async function measurePulls(
  cluster: BenchCluster,
  sizeBytes: number,
  repeats: number,
): Promise<Metrics> {
  const label = sizeLabel(sizeBytes);
  const id = await putOnSource(cluster, sizeBytes);
  const host = await startTransferHost(sizeBytes);
  const target = touchedBuffer(sizeBytes, 1);
  const raw: number[] = [];
  const pulled: number[] = [];
  try {
    for (let r = -1; r < repeats; r++) {
      const rawUs = (await rawReceive(host.rawPort, target)) * 1e6;
      const pullUsValue = await pullUs(cluster.prefault, id, sizeBytes);
      await dropCopy(cluster.prefault, id);
      if (r < 0) continue;
      raw.push(rawUs);
      pulled.push(pullUsValue);
    }
  } finally {
    await host.stop();
  }
  const coldUs = await pullUs(cluster.cold, id, sizeBytes);
  await cluster.source.client.delete(id);
  return {
    [`cluster.raw.${label}`]: median(raw),
    [`cluster.raw.best.${label}`]: Math.min(...raw),
    [`cluster.pull.prefault.${label}`]: median(pulled),
    [`cluster.pull.prefault.best.${label}`]: Math.min(...pulled),
    [`cluster.pull.cold.${label}`]: coldUs,
    [`cluster.pull.repeats.${label}`]: repeats,
  };
}
