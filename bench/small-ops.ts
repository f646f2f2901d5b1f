#!/usr/bin/env bun
/**
 * Small-object A/B tool: `bun bench/small-ops.ts [--roots DIR_A,DIR_B] [--rounds N] [--ops N] [--pin]`.
 * Runs the small rows (1 KiB createAndSeal, get+release of distinct objects and of one object, contains;
 * sequential and 64 in flight) against each checkout in turn, round after round, plus Redis in the same
 * rounds, and prints the median of each figure per checkout. Each (round, checkout) runs in a fresh process
 * that imports that checkout's client and starts that checkout's plasma_store, so two versions of the
 * code can be compared on a noisy machine (alternating, medians).
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { ObjectID as Id } from "../src/client/index.ts";
import { startRedis } from "./lib/env.ts";
import { median, pipelinedUs, sequentialUs, touchedBuffer } from "./lib/measure.ts";
import { warmUpStore } from "./lib/warm-up.ts";

const argv = process.argv.slice(2);
const flag = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const IN_FLIGHT = 64;
const RESIDENT = 1024;
const ops = Number(flag("--ops") ?? 5000);
const repeats = 3;

type Figures = Record<string, number>;

/** Measures one checkout (the child side). */
async function measureStore(root: string): Promise<Figures> {
  const client = (await import(join(root, "src/client/index.ts"))) as typeof import("../src/client/index.ts");
  const { ObjectID } = client;
  const dir = mkdtempSync(join(tmpdir(), "plasma-small-"));
  const socketPath = join(dir, "plasma.sock");
  const proc = Bun.spawn(
    ["bun", join(root, "src/daemon/cli.ts"), "-m", String(256 * 2 ** 20), "-s", socketPath],
    {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "inherit",
      env: { ...process.env, PLASMA_LOG_LEVEL: "warn" },
    },
  );
  try {
    for (let i = 0; !existsSync(socketPath); i++) {
      if (i > 400) throw new Error("store did not start");
      await Bun.sleep(25);
    }
    const c = await client.connect(socketPath, { retries: 50 });
    await warmUpStore(c);
    const data = touchedBuffer(1024);
    const f: Figures = {};
    const fresh = Array.from({ length: ops }, () => ObjectID.fromRandom());
    const cleanup = { ops, repeats, after: () => c.delete(fresh).then(() => {}) };
    f["createAndSeal.seq"] = await sequentialUs(cleanup, (i) => c.createAndSeal(fresh[i] as Id, data));
    f["createAndSeal.p64"] = await pipelinedUs({ ...cleanup, inFlight: IN_FLIGHT }, (i) =>
      c.createAndSeal(fresh[i] as Id, data),
    );
    const resident = Array.from({ length: RESIDENT }, () => ObjectID.fromRandom());
    for (const id of resident) await c.createAndSeal(id, data);
    const pick = (i: number) => resident[i % RESIDENT] as Id;
    const getRelease = async (id: Id) => {
      const [b] = await c.getBuffers([id], { timeoutMs: 0 });
      if (b === null || b === undefined) throw new Error("missing");
      await c.release(id);
    };
    f["get.distinct.seq"] = await sequentialUs({ ops, repeats }, (i) => getRelease(pick(i)));
    f["get.distinct.p64"] = await pipelinedUs({ ops, repeats, inFlight: IN_FLIGHT }, (i) =>
      getRelease(pick(i)),
    );
    f["get.same.seq"] = await sequentialUs({ ops, repeats }, () => getRelease(pick(0)));
    f["contains.seq"] = await sequentialUs({ ops, repeats }, (i) => c.contains(pick(i)));
    f["contains.p64"] = await pipelinedUs({ ops, repeats, inFlight: IN_FLIGHT }, (i) => c.contains(pick(i)));
    await c.disconnect();
    return f;
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measureRedis(): Promise<Figures> {
  const redis = await startRedis();
  try {
    const c = await redis.client();
    const value = touchedBuffer(1024);
    const key = (i: number) => `k${i % RESIDENT}`;
    const f: Figures = {};
    f["redis.set.seq"] = await sequentialUs({ ops, repeats }, (i) => c.set(key(i), value));
    f["redis.set.p64"] = await pipelinedUs({ ops, repeats, inFlight: IN_FLIGHT }, (i) =>
      c.set(key(i), value),
    );
    f["redis.get.seq"] = await sequentialUs({ ops, repeats }, (i) => c.getBuffer(key(i)));
    f["redis.get.p64"] = await pipelinedUs({ ops, repeats, inFlight: IN_FLIGHT }, (i) => c.getBuffer(key(i)));
    f["redis.exists.seq"] = await sequentialUs({ ops, repeats }, (i) => c.exists(key(i)));
    return f;
  } finally {
    await redis.stop();
  }
}

async function child(target: string): Promise<void> {
  const figures = target === "redis" ? await measureRedis() : await measureStore(target);
  console.log(`FIGURES ${JSON.stringify(figures)}`);
}

async function parent(): Promise<void> {
  const roots = (flag("--roots") ?? join(import.meta.dir, "..")).split(",").map((r) => resolve(r));
  const rounds = Number(flag("--rounds") ?? 3);
  const pin = argv.includes("--pin");
  const targets = ["redis", ...roots];
  const samples = new Map<string, Map<string, number[]>>();
  for (let round = 0; round < rounds; round++) {
    for (const target of round % 2 === 0 ? targets : [...targets].reverse()) {
      const cmd = ["bun", import.meta.path, "--child", target, "--ops", String(ops)];
      const proc = Bun.spawn(pin ? ["taskset", "-c", "1", ...cmd] : cmd, {
        stdout: "pipe",
        stderr: "inherit",
      });
      const out = await new Response(proc.stdout).text();
      await proc.exited;
      const line = out.split("\n").find((l) => l.startsWith("FIGURES "));
      if (line === undefined) throw new Error(`no figures from ${target}`);
      const figures = JSON.parse(line.slice(8)) as Figures;
      const byName = samples.get(target) ?? new Map<string, number[]>();
      samples.set(target, byName);
      for (const [name, v] of Object.entries(figures)) byName.set(name, [...(byName.get(name) ?? []), v]);
    }
  }
  console.log(`${pin ? "pinned to cpu 1" : "unpinned"}; ${rounds} rounds; µs per op (median of rounds)`);
  for (const [target, byName] of samples) {
    console.log(`\n${target}`);
    for (const [name, values] of byName) {
      console.log(
        `  ${name.padEnd(20)} ${median(values).toFixed(2).padStart(8)}   [${values.map((v) => v.toFixed(1)).join(", ")}]`,
      );
    }
  }
}

const childTarget = flag("--child");
if (childTarget !== undefined) await child(childTarget);
else await parent();
