#!/usr/bin/env bun
/**
 * Where a client's get+release of a sealed object goes when the shared directory serves it (no round trip):
 * `bun bench/profile-client-get.ts [--ops N] [--objects N] [--rounds N]`; add `bun --cpu-prof` for a profile
 * of this process (the store runs in its own). Starts a plasma_store, creates `--objects` sealed 1 KiB
 * objects, then times, in the same run, the bench's loop (getBuffers + release, each awaited) in its two
 * regimes: distinct objects cycled (the bench's row: after the first pass the client revives its own idle
 * holdings) and fresh pins (a turn of the event loop between passes gives every pin back, so each get pins),
 * plus a synchronous baseline for each step the path takes. Figures are CPU time of this process per op.
 */
import { connect, ObjectID, type PlasmaClient } from "../src/client/index.ts";
import { startStore } from "./lib/env.ts";
import { MiB, median, touchedBuffer } from "./lib/measure.ts";
import { warmUpStore } from "./lib/warm-up.ts";

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const ops = flag("--ops", 200_000);
const objects = flag("--objects", 1000);
const rounds = flag("--rounds", 5);
/** `--only cycled` or `--only fresh`: time just that loop (for a focused `--cpu-prof`). */
const onlyIndex = argv.indexOf("--only");
const only = onlyIndex >= 0 ? argv[onlyIndex + 1] : null;

async function getRelease(client: PlasmaClient, id: ObjectID): Promise<void> {
  const [buffer] = await client.getBuffers([id], { timeoutMs: 0 });
  if (buffer === null || buffer === undefined) throw new Error(`object ${id} is missing`);
  await client.release(id);
}

/** This process's CPU time (user + system) in ns: unlike wall time, it does not count waiting for a core. */
function cpuNs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000;
}

/**
 * Median CPU ns per op over `rounds` (on a shared machine wall time mostly measures the other processes);
 * `betweenPasses` runs (untimed) after every pass over the objects.
 */
async function timed(
  op: (i: number) => Promise<unknown> | unknown,
  betweenPasses: (() => Promise<void>) | null,
): Promise<number> {
  const samples: number[] = [];
  const pass = betweenPasses === null ? ops : objects;
  for (let round = -1; round < rounds; round++) {
    let elapsedNs = 0;
    for (let done = 0; done < ops; done += pass) {
      const start = cpuNs();
      for (let i = 0; i < pass; i++) await op(i);
      elapsedNs += cpuNs() - start;
      await betweenPasses?.();
    }
    if (round >= 0) samples.push(elapsedNs / ops);
  }
  return median(samples);
}

function syncNs(op: (i: number) => unknown): number {
  const samples: number[] = [];
  for (let round = -1; round < rounds; round++) {
    const start = cpuNs();
    for (let i = 0; i < ops; i++) op(i);
    if (round >= 0) samples.push((cpuNs() - start) / ops);
  }
  return median(samples);
}

async function baselines(rows: [string, number][], ab: ArrayBuffer): Promise<void> {
  rows.push(["baseline: await of an async no-op", await timed(async () => undefined, null)]);
  rows.push(["baseline: new Uint8Array(ab, 0, n)", syncNs(() => new Uint8Array(ab, 0, 1024))]);
  const registry = new FinalizationRegistry<number>(() => {});
  rows.push([
    "baseline: FinalizationRegistry.register",
    syncNs((i) => registry.register(new Uint8Array(ab), i)),
  ]);
  rows.push(["baseline: new Uint8Array(ab) alone", syncNs(() => new Uint8Array(ab))]);
}

const store = await startStore(256 * MiB);
try {
  const client = await connect(store.socketPath, { retries: 50 });
  await warmUpStore(client, 1);
  const data = touchedBuffer(1024);
  const ids = Array.from({ length: objects }, () => ObjectID.fromRandom());
  for (const id of ids) await client.createAndSeal(id, data);
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  const rows: [string, number][] = [];
  if (only !== "fresh") {
    const cycled = await timed((i) => getRelease(client, ids[i % objects] as ObjectID), null);
    rows.push(["get+release, cycled (bench row)", cycled]);
  }
  if (only !== "cycled") {
    const fresh = await timed((i) => getRelease(client, ids[i] as ObjectID), turn);
    rows.push(["get+release, fresh pin each get", fresh]);
  }
  const ab = new ArrayBuffer(1024);
  if (only === null) await baselines(rows, ab);
  for (const [label, ns] of rows) console.log(`${label.padEnd(44)} ${ns.toFixed(0).padStart(7)} CPU ns/op`);
  console.log(`${objects} sealed 1 KiB objects, ${ops} ops per round, median of ${rounds} rounds`);
  await client.disconnect();
} finally {
  await store.stop();
}
