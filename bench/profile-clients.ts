#!/usr/bin/env bun
/**
 * Where the CPU goes with many client processes (the scaling section's rows): `bun bench/profile-clients.ts
 * [--clients N] [--ms DURATION]`. Runs bench/workers/load-client.ts N times against a plasma_store and then
 * against Redis, reading (get+release vs GET) and writing (createAndSeal vs SET of 1 KiB), and prints the
 * total ops/s with the CPU time (from /proc/PID/stat) the clients and the server spent per operation. On a
 * shared machine ops/s follows the share of the CPUs the run got; CPU per operation does much less.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expectLine, spawnLineChild } from "./lib/child.ts";
import { startRedis, startStore } from "./lib/env.ts";
import { handoffId } from "./lib/handoff-ids.ts";
import { KiB, MiB, touchedBuffer } from "./lib/measure.ts";

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const clientCount = flag("--clients", 16);
const durationMs = flag("--ms", 3000);
const OBJECTS = 1000;
/** Kernel clock ticks per second (USER_HZ), the unit of utime and stime in /proc/PID/stat. */
const TICKS_PER_S = 100;

/** utime + stime of a process in ms; 0 once it is gone. */
function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_S;
  } catch {
    return 0;
  }
}

interface Load {
  opsPerS: number;
  clientCpuUsPerOp: number;
  serverCpuUsPerOp: number;
}

async function load(serverPid: number, args: readonly string[], mode: string): Promise<Load> {
  const worker = join(import.meta.dir, "workers/load-client.ts");
  const children = Array.from({ length: clientCount }, () =>
    spawnLineChild(["bun", worker, ...args, String(OBJECTS), mode]),
  );
  try {
    for (const child of children) await expectLine(child, "ready");
    const pids = children.map((c) => c.proc.pid);
    const clientsBefore = pids.reduce((sum, pid) => sum + cpuMs(pid), 0);
    const serverBefore = cpuMs(serverPid);
    for (const child of children) child.send(`go ${durationMs}`);
    // Read just before the children stop (they exit once they print their count).
    await Bun.sleep(durationMs - 30);
    const clientsMs = pids.reduce((sum, pid) => sum + cpuMs(pid), 0) - clientsBefore;
    const serverMs = cpuMs(serverPid) - serverBefore;
    let ops = 0;
    for (const child of children) ops += Number(await child.nextLine());
    return {
      opsPerS: ops / (durationMs / 1000),
      clientCpuUsPerOp: (clientsMs * 1000) / ops,
      serverCpuUsPerOp: (serverMs * 1000) / ops,
    };
  } finally {
    await Promise.all(children.map((child) => child.stop()));
  }
}

const store = await startStore(256 * MiB);
const redis = await startRedis();
try {
  const seed = 91;
  const data = touchedBuffer(KiB);
  const client = await store.connect();
  for (let i = 0; i < OBJECTS; i++) await client.createAndSeal(handoffId(seed, i), data);
  await client.disconnect();
  const rc = await redis.client();
  for (let i = 0; i < OBJECTS; i++) await rc.set(`load${i}`, data);
  const rows: [string, Load][] = [];
  for (const mode of ["read", "write"]) {
    rows.push([`store ${mode}`, await load(store.pid, ["store", store.socketPath, String(seed)], mode)]);
    rows.push([`redis ${mode}`, await load(redis.pid, ["redis", redis.url, "load"], mode)]);
  }
  console.log(
    `${clientCount} client processes, ${durationMs} ms each, ${navigator.hardwareConcurrency} CPUs`,
  );
  console.log("row            ops/s   client CPU µs/op   server CPU µs/op");
  for (const [label, r] of rows) {
    console.log(
      `${label.padEnd(12)} ${r.opsPerS.toFixed(0).padStart(8)} ${r.clientCpuUsPerOp.toFixed(2).padStart(18)} ${r.serverCpuUsPerOp.toFixed(2).padStart(18)}`,
    );
  }
} finally {
  await store.stop();
  await redis.stop();
}
