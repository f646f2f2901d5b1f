#!/usr/bin/env bun
/**
 * Where the store's time goes per request: `bun bench/profile-store.ts [--seconds N] [--in-flight N]
 * [--top N] [--keep DIR]`. Starts a plasma_store under `bun --cpu-prof`, drives it with pipelined
 * createAndSeal of 1 KiB objects (64 in flight, the bench's row; each wave deleted by the next batch)
 * from this process, stops it, and prints the functions with the most self time in the store process,
 * with the request rate the load reached.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, ObjectID } from "../src/client/index.ts";
import { printSelfTimes, selfTimesIn } from "./lib/cpu-profile.ts";
import { touchedBuffer } from "./lib/measure.ts";
import { warmUpStore } from "./lib/warm-up.ts";

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const seconds = flag("--seconds", 3);
const inFlight = flag("--in-flight", 64);
const top = flag("--top", 30);
const keepIndex = argv.indexOf("--keep");

async function load(socketPath: string): Promise<number> {
  const client = await connect(socketPath, { retries: 100 });
  await warmUpStore(client, 1);
  const data = touchedBuffer(1024);
  let ops = 0;
  let previous: ObjectID[] = [];
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  while (performance.now() < end) {
    const ids = Array.from({ length: inFlight }, () => ObjectID.fromRandom());
    const wave: Promise<unknown>[] = ids.map((id) => client.createAndSeal(id, data));
    if (previous.length > 0) wave.push(client.delete(previous));
    await Promise.all(wave);
    previous = ids;
    ops += ids.length;
  }
  const opsPerS = ops / ((performance.now() - start) / 1000);
  await client.disconnect();
  return opsPerS;
}

const dir = keepIndex >= 0 ? (argv[keepIndex + 1] as string) : mkdtempSync(join(tmpdir(), "plasma-prof-"));
const socketPath = join(dir, "plasma.sock");
const store = Bun.spawn(
  ["bun", "--cpu-prof", `--cpu-prof-dir=${dir}`, join(import.meta.dir, "../src/daemon/cli.ts")].concat([
    "-m",
    String(256 * 2 ** 20),
    "-s",
    socketPath,
  ]),
  { stdout: "ignore", stderr: "inherit", env: { ...process.env, PLASMA_LOG_LEVEL: "warn" } },
);
try {
  const opsPerS = await load(socketPath);
  store.kill("SIGTERM");
  await store.exited;
  console.log(`createAndSeal 1 KiB, ${inFlight} in flight: ${opsPerS.toFixed(0)} ops/s`);
  console.log("store:");
  printSelfTimes(selfTimesIn(dir), top);
} finally {
  if (store.exitCode === null) store.kill("SIGKILL");
  if (keepIndex < 0) rmSync(dir, { recursive: true, force: true });
}
