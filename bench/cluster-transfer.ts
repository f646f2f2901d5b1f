#!/usr/bin/env bun
/**
 * `bun bench/cluster-transfer.ts [--quick]`: pulling an object (64 MiB, 1 GiB) from a TransferServer in
 * another Bun process, against a raw loopback TCP stream of the same bytes between the same two processes,
 * measured in the same run. Both land in a target buffer that was filled first (prefaulted), so page faults
 * do not hide the transfer path. Raw and framed runs alternate; the table gives the best run of each
 * (other load only ever slows a run down) and the medians, with the ratios (target ≥ 0.7× raw TCP), and
 * the load average, since these 2-core machines are shared.
 */
import { loadavg } from "node:os";
import { pullObject } from "../src/cluster/transfer/index.ts";
import { GiB, MiB, median, sizeLabel } from "./lib/measure.ts";
import { rawReceive, startTransferHost, type TransferHost } from "./lib/transfer-host.ts";

/** Seconds to pull the object into `target` through pullObject. */
async function framedPull(host: TransferHost, target: Uint8Array): Promise<number> {
  const start = performance.now();
  const result = await pullObject({ host: "127.0.0.1", port: host.transferPort }, "bench", host.id, {
    begin: () => ({
      write: (offset, bytes) => target.set(bytes, offset),
      commit() {},
      abort() {},
    }),
  });
  if (result.status !== "pulled") throw new Error("the bench object was not available");
  return (performance.now() - start) / 1000;
}

interface Row {
  sizeBytes: number;
  raw: number[];
  framed: number[];
}

async function measure(sizeBytes: number, repeats: number): Promise<Row> {
  const host = await startTransferHost(sizeBytes);
  const target = new Uint8Array(sizeBytes).fill(1);
  const raw: number[] = [];
  const framed: number[] = [];
  try {
    for (let r = -1; r < repeats; r++) {
      const rawS = await rawReceive(host.rawPort, target);
      const framedS = await framedPull(host, target);
      if (r >= 0) {
        raw.push(rawS);
        framed.push(framedS);
      }
    }
  } finally {
    await host.stop();
  }
  return { sizeBytes, raw, framed };
}

const quick = process.argv.includes("--quick");
const rows: Row[] = [];
for (const [sizeBytes, repeats] of [
  [64 * MiB, quick ? 3 : 9],
  [GiB, quick ? 1 : 3],
] as const) {
  rows.push(await measure(sizeBytes, repeats));
}
const gbps = (row: Row, seconds: number) => row.sizeBytes / seconds / 1e9;
console.log(
  `load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")} on this machine during the run`,
);
console.log(
  "| object | runs | raw TCP best | framed best | ratio (best, ≥ 0.7) | raw median | framed median | ratio (median) |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const row of rows) {
  const rawBest = gbps(row, Math.min(...row.raw));
  const framedBest = gbps(row, Math.min(...row.framed));
  const rawMedian = gbps(row, median(row.raw));
  const framedMedian = gbps(row, median(row.framed));
  const cells = [
    sizeLabel(row.sizeBytes),
    String(row.raw.length),
    `${rawBest.toFixed(2)} GB/s`,
    `${framedBest.toFixed(2)} GB/s`,
    `${(framedBest / rawBest).toFixed(2)}×`,
    `${rawMedian.toFixed(2)} GB/s`,
    `${framedMedian.toFixed(2)} GB/s`,
    `${(framedMedian / rawMedian).toFixed(2)}×`,
  ];
  console.log(`| ${cells.join(" | ")} |`);
}
