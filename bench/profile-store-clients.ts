#!/usr/bin/env bun
/**
 * Where the store's time goes under many client processes: `bun bench/profile-store-clients.ts [--clients N]
 * [--ms DURATION] [--mode read|write] [--top N]`. Starts a plasma_store under `bun --cpu-prof`, runs
 * bench/workers/load-client.ts N times against it (the scaling section's load: get+release of 1,000 objects,
 * or createAndSeal of fresh 1 KiB objects with an evict every 1,000), stops it and prints its functions with
 * the most self time, with the total ops/s reached.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "../src/client/index.ts";
import { expectLine, spawnLineChild } from "./lib/child.ts";
import { printSelfTimes, selfTimesIn } from "./lib/cpu-profile.ts";
import { handoffId } from "./lib/handoff-ids.ts";
import { touchedBuffer } from "./lib/measure.ts";

const argv = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? (argv[i + 1] as string) : fallback;
};
const clientCount = Number(option("--clients", "16"));
const durationMs = Number(option("--ms", "3000"));
const mode = option("--mode", "write");
const top = Number(option("--top", "25"));
const OBJECTS = 1000;
const SEED = 5;

const dir = mkdtempSync(join(tmpdir(), "plasma-prof-"));
const socketPath = join(dir, "plasma.sock");
const store = Bun.spawn(
  [
    "bun",
    "--cpu-prof",
    "--cpu-prof-interval=200",
    `--cpu-prof-dir=${dir}`,
    join(import.meta.dir, "../src/daemon/cli.ts"),
  ].concat(["-m", String(256 * 2 ** 20), "-s", socketPath]),
  { stdout: "ignore", stderr: "inherit", env: { ...process.env, PLASMA_LOG_LEVEL: "warn" } },
);
try {
  while (!existsSync(socketPath)) await Bun.sleep(50);
  const client = await connect(socketPath, { retries: 50 });
  const data = touchedBuffer(1024);
  for (let i = 0; i < OBJECTS; i++) await client.createAndSeal(handoffId(SEED, i), data);
  await client.disconnect();
  const worker = join(import.meta.dir, "workers/load-client.ts");
  const children = Array.from({ length: clientCount }, () =>
    spawnLineChild(["bun", worker, "store", socketPath, String(SEED), String(OBJECTS), mode]),
  );
  let ops = 0;
  try {
    for (const child of children) await expectLine(child, "ready");
    for (const child of children) child.send(`go ${durationMs}`);
    for (const child of children) ops += Number(await child.nextLine());
  } finally {
    await Promise.all(children.map((child) => child.stop()));
  }
  store.kill("SIGTERM");
  await store.exited;
  console.log(`${clientCount} clients, ${mode}: ${(ops / (durationMs / 1000)).toFixed(0)} ops/s in total`);
  printSelfTimes(selfTimesIn(dir), top);
} finally {
  if (store.exitCode === null) store.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
}
