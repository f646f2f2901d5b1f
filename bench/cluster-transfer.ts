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
import { join } from "node:path";
import { pullObject } from "../src/cluster/transfer/index.ts";
import { ObjectID } from "../src/protocol/object-id.ts";
import { GiB, MiB, median, sizeLabel } from "./lib/measure.ts";

interface Host {
  rawPort: number;
  transferPort: number;
  id: ObjectID;
  stop(): Promise<void>;
}

async function startHost(sizeBytes: number): Promise<Host> {
  const proc = Bun.spawn(
    [process.execPath, join(import.meta.dir, "workers", "transfer-host.ts"), String(sizeBytes)],
    {
      stdout: "pipe",
      stderr: "inherit",
    },
  );
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`transfer host exited: ${text}`);
    text += new TextDecoder().decode(value);
  }
  const line = JSON.parse(text) as { rawPort: number; transferPort: number; id: string };
  return {
    rawPort: line.rawPort,
    transferPort: line.transferPort,
    id: ObjectID.fromHex(line.id),
    async stop() {
      proc.kill();
      await proc.exited;
    },
  };
}

/** Seconds to receive sizeBytes over a raw connection, copying each read into `target` at its offset. */
function rawReceive(port: number, target: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let received = 0;
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data(socket, data) {
          target.set(data, received);
          received += data.length;
          if (received === target.length) {
            resolve((performance.now() - start) / 1000);
            socket.terminate();
          }
        },
        close: () => {
          if (received < target.length) reject(new Error(`raw stream closed at ${received} bytes`));
        },
      },
    }).catch(reject);
  });
}

/** Seconds to pull the object into `target` through pullObject. */
async function framedPull(host: Host, target: Uint8Array): Promise<number> {
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
  const host = await startHost(sizeBytes);
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
