/** What the table shows: each row names our metric, the baselines measured in the same run, a target. */
import type { Metrics } from "./lib/env.ts";
import { GiB, KiB, MiB, sizeLabel } from "./lib/measure.ts";
import { clusterRows } from "./rows-cluster.ts";

/** latency: µs per op (lower wins); bandwidth: µs per op of `bytes` shown as GB/s; opsPerS: higher wins; bytes: lower wins. */
export type RowKind = "latency" | "bandwidth" | "opsPerS" | "bytes";

export interface Baseline {
  name: string;
  key: string;
}

export interface Target {
  text: string;
  /** Ratio (ours vs this baseline, >1 = ours better) that meets the target. */
  baseline?: string;
  minRatio?: number;
  /** Or an absolute ceiling on our figure. */
  maxValue?: number;
}

export interface RowSpec {
  group: string;
  name: string;
  kind: RowKind;
  ours: string;
  baselines: Baseline[];
  /** Bytes per op, for bandwidth rows. */
  bytes?: number;
  target?: Target;
  /** The original Plasma's figure from the issue (C++ store and client, not measured here). */
  plasma?: string;
  /** Measured only by a full run: `--quick` leaves it empty (to stay quick). */
  fullOnly?: boolean;
}

export interface Row extends RowSpec {
  oursValue: number | null;
  baselineValues: (number | null)[];
  /** Per baseline: >1 means ours is better. */
  ratios: (number | null)[];
  met: boolean | null;
}

const SIZES = [100, KiB, 64 * KiB, MiB, 64 * MiB];
const SMALL = [100, KiB];
const PIPELINED = [100, KiB, 64 * KiB, MiB];

function latencyRows(prefix: string, suffix: string): RowSpec[] {
  const rows: RowSpec[] = [];
  const group = `Sequential latency${suffix}`;
  const sizes = prefix === "" ? SIZES : SMALL;
  for (const bytes of sizes) {
    const s = sizeLabel(bytes);
    const target = (what: string): Target | undefined =>
      bytes === KiB ? { text: `≥ 1× Redis ${what}`, baseline: `Redis ${what}`, minRatio: 1 } : undefined;
    const files = prefix === "" ? [{ name: "/dev/shm Bun.write", key: `files.write.${s}` }] : [];
    rows.push({
      group,
      name: `createAndSeal ${s}`,
      kind: "latency",
      ours: `${prefix}store.createAndSeal.seq.${s}`,
      baselines: [{ name: "Redis SET", key: `${prefix}redis.set.seq.${s}` }, ...files],
      target: target("SET"),
    });
    rows.push({
      group,
      name: `create+write+seal+release ${s}`,
      kind: "latency",
      ours: `${prefix}store.cws.seq.${s}`,
      baselines: [{ name: "Redis SET", key: `${prefix}redis.set.seq.${s}` }, ...files],
      plasma: bytes === KiB ? "88 µs" : undefined,
    });
    if (bytes <= KiB) {
      rows.push({
        group,
        name: `get+release ${s}, one object again and again (served by the client after the first get)`,
        kind: "latency",
        ours: `${prefix}store.getSame.seq.${s}`,
        baselines: [{ name: "Redis GET", key: `${prefix}redis.get.seq.${s}` }],
      });
    }
    rows.push({
      group,
      name: `get+release ${s}, distinct objects (from the shared directory: no round trip)`,
      kind: "latency",
      ours: `${prefix}store.get.seq.${s}`,
      baselines: [
        { name: "Redis GET", key: `${prefix}redis.get.seq.${s}` },
        ...(prefix === ""
          ? [
              { name: "/dev/shm arrayBuffer()", key: `files.arrayBuffer.${s}` },
              { name: "/dev/shm Bun.mmap", key: `files.mmap.${s}` },
            ]
          : []),
      ],
      target:
        bytes === 64 * MiB
          ? { text: "≥ 1000× Redis GET and file read", baseline: "Redis GET", minRatio: 1000 }
          : bytes === KiB
            ? { text: "≥ 5× Redis GET (issue 15)", baseline: "Redis GET", minRatio: 5 }
            : target("GET"),
      plasma: bytes === KiB ? "33.6 µs" : undefined,
    });
  }
  rows.push({
    group,
    name: "contains 1KiB",
    kind: "latency",
    ours: `${prefix}store.contains.seq.1KiB`,
    baselines: [{ name: "Redis EXISTS", key: `${prefix}redis.exists.seq.1KiB` }],
    target: { text: "≥ 5× Redis EXISTS (issue 15)", baseline: "Redis EXISTS", minRatio: 5 },
    plasma: "50 µs",
  });
  rows.push({
    group,
    name: "cross-process handoff 1KiB (A puts, B waiting gets)",
    kind: "latency",
    ours: `${prefix}handoff.store.1KiB`,
    baselines: [{ name: "Redis RPUSH→BLPOP", key: `${prefix}handoff.redis.1KiB` }],
  });
  if (prefix === "") {
    rows.push({
      group,
      name: "cross-process handoff 64MiB",
      kind: "latency",
      ours: "handoff.store.64MiB",
      baselines: [{ name: "Redis RPUSH→BLPOP", key: "handoff.redis.64MiB" }],
    });
  }
  return rows;
}

function pipelinedRows(): RowSpec[] {
  const rows: RowSpec[] = [];
  const group = "Pipelined, 64 in flight (µs per op)";
  for (const bytes of PIPELINED) {
    const s = sizeLabel(bytes);
    const small = bytes <= KiB;
    const target = (what: string): Target | undefined =>
      small ? { text: `≥ 1.5× Redis ${what}`, baseline: `Redis ${what}`, minRatio: 1.5 } : undefined;
    rows.push({
      group,
      name: `createAndSeal ${s}`,
      kind: "latency",
      ours: `store.createAndSeal.p64.${s}`,
      baselines: [{ name: "Redis SET", key: `redis.set.p64.${s}` }],
      target: target("SET"),
    });
    rows.push({
      group,
      name: `create+write+seal+release ${s}`,
      kind: "latency",
      ours: `store.cws.p64.${s}`,
      baselines: [{ name: "Redis SET", key: `redis.set.p64.${s}` }],
    });
    rows.push({
      group,
      name: `get+release ${s}, distinct objects`,
      kind: "latency",
      ours: `store.get.p64.${s}`,
      baselines: [{ name: "Redis GET", key: `redis.get.p64.${s}` }],
      target: target("GET"),
    });
  }
  rows.push({
    group,
    name: "contains 1KiB",
    kind: "latency",
    ours: "store.contains.p64.1KiB",
    baselines: [{ name: "Redis EXISTS", key: "redis.exists.p64.1KiB" }],
    target: { text: "≥ 1.5× Redis EXISTS", baseline: "Redis EXISTS", minRatio: 1.5 },
  });
  rows.push({
    group,
    name: "multi-get of 1,000 ids, 1KiB each (per object)",
    kind: "latency",
    ours: "store.mget1000.1KiB",
    baselines: [{ name: "Redis MGET", key: "redis.mget1000.1KiB" }],
    target: { text: "≥ 1.5× Redis MGET", baseline: "Redis MGET", minRatio: 1.5 },
  });
  return rows;
}

function largeRows(): RowSpec[] {
  const rows: RowSpec[] = [];
  const group = "Large objects";
  for (const bytes of [256 * MiB, GiB]) {
    const s = sizeLabel(bytes);
    const memcpy = { name: "memcpy (Uint8Array.set)", key: `memcpy.${s}` };
    rows.push({
      group,
      name: `put ${s}, default pages (first touch)`,
      kind: "bandwidth",
      bytes,
      ours: `large.put.cold.${s}`,
      baselines: [memcpy],
      plasma: bytes === 256 * MiB ? "1.5 GB/s" : undefined,
    });
    rows.push({
      group,
      name: `put ${s}, --prefault arena + populated client`,
      kind: "bandwidth",
      bytes,
      ours: `large.put.prefault.${s}`,
      baselines: [memcpy],
      target: { text: "≥ 0.8× memcpy", baseline: memcpy.name, minRatio: 0.8 },
      plasma: bytes === 256 * MiB ? "11.3 GB/s" : undefined,
    });
    rows.push({
      group,
      name: `put ${s}, huge pages`,
      kind: "bandwidth",
      bytes,
      ours: `large.put.huge.${s}`,
      baselines: [memcpy],
      target: { text: "≥ 0.8× memcpy", baseline: memcpy.name, minRatio: 0.8 },
    });
    rows.push({
      group,
      name: `put ${s}, prefaulted, parallel copy (2 threads)`,
      kind: "bandwidth",
      bytes,
      ours: `large.put.parallel.${s}`,
      baselines: [memcpy],
      target: { text: "> 1× memcpy", baseline: memcpy.name, minRatio: 1 },
    });
  }
  for (const bytes of [256 * MiB, GiB]) {
    const s = sizeLabel(bytes);
    rows.push({
      group,
      name: `get+release ${s}, one round trip each (vs 1KiB, same store)`,
      kind: "latency",
      ours: `large.get.${s}`,
      baselines: [{ name: "get+release 1KiB", key: "large.get.1KiB" }],
      target:
        bytes === GiB
          ? { text: "within 1.2× of 1KiB", baseline: "get+release 1KiB", minRatio: 1 / 1.2 }
          : undefined,
      plasma: "33.6 µs",
    });
  }
  return rows;
}

function scalingRows(): RowSpec[] {
  const group = "Scaling";
  const rows: RowSpec[] = [];
  for (const [mode, label] of [
    ["seq", "sequential"],
    ["p64", "64 in flight"],
  ] as const) {
    rows.push({
      group,
      name: `get+release 64B with many objects resident, ${label}`,
      kind: "latency",
      ours: `scale.resident.get.${mode}.large`,
      baselines: [{ name: "1,000 resident", key: `scale.resident.get.${mode}.small` }],
      target: { text: "≥ 0.8× (≤ 20% slower)", baseline: "1,000 resident", minRatio: 0.8 },
    });
  }
  for (const n of [1, 4, 16]) {
    rows.push({
      group,
      name: `get+release 1KiB, ${n} client process${n === 1 ? "" : "es"} (total ops/s)`,
      kind: "opsPerS",
      ours: `scale.clients.store.${n}`,
      baselines: [{ name: "Redis GET", key: `scale.clients.redis.${n}` }],
      target:
        n === 16 ? { text: "≥ 3× Redis GET (issue 15)", baseline: "Redis GET", minRatio: 3 } : undefined,
    });
  }
  rows.push({
    group,
    name: "createAndSeal 1KiB, 16 client processes (total ops/s)",
    kind: "opsPerS",
    ours: "scale.clients.store.16.write",
    baselines: [{ name: "Redis SET", key: "scale.clients.redis.16.write" }],
    target: { text: "≥ 1× Redis SET", baseline: "Redis SET", minRatio: 1 },
  });
  rows.push({
    group,
    name: "store memory per resident object: anonymous RSS",
    kind: "bytes",
    ours: "scale.memory.rssPerObject",
    baselines: [],
    target: { text: "< 256 B", maxValue: 256 },
  });
  rows.push({
    group,
    name: "store memory per resident object: JS heap",
    kind: "bytes",
    ours: "scale.memory.heapPerObject",
    baselines: [],
    target: { text: "< 256 B", maxValue: 256 },
  });
  return rows;
}

function spillRows(): RowSpec[] {
  const group = "Spilling (issue 16; spill directory on the temp directory's disk)";
  const rows: RowSpec[] = [];
  for (const bytes of [256 * MiB, GiB]) {
    const s = sizeLabel(bytes);
    const fullOnly = bytes === GiB ? true : undefined;
    rows.push({
      group,
      name: `spill ${s} (written, fsynced, renamed)`,
      kind: "bandwidth",
      bytes,
      ours: `spill.write.${s}.us`,
      baselines: [
        { name: "Bun.write", key: `spill.bunWrite.${s}.us` },
        { name: "Bun.write + fsync", key: `spill.bunWriteFsync.${s}.us` },
      ],
      target: { text: "≥ 0.7× Bun.write", baseline: "Bun.write", minRatio: 0.7 },
      fullOnly,
    });
    rows.push({
      group,
      name: `restore ${s} (read into the arena, verified)`,
      kind: "bandwidth",
      bytes,
      ours: `spill.restore.${s}.us`,
      baselines: [{ name: "Bun.file().arrayBuffer()", key: `spill.bunRead.${s}.us` }],
      target: { text: "≥ 0.7× Bun.file()", baseline: "Bun.file().arrayBuffer()", minRatio: 0.7 },
      fullOnly,
    });
  }
  rows.push({
    group,
    name: "get+release 1KiB p99, another client, while a 1GiB object is spilled (128MiB with --quick)",
    kind: "latency",
    ours: "spill.getP99.during",
    baselines: [{ name: "p99 on the idle store", key: "spill.getP99.idle" }],
    target: { text: "< 2 ms", maxValue: 2000 },
  });
  rows.push({
    group,
    name: "get+release 1KiB p99 through the store (shared directory off), while a 1GiB object is spilled (128MiB with --quick)",
    kind: "latency",
    ours: "spill.getP99.during.store",
    baselines: [{ name: "p99 on the idle store", key: "spill.getP99.idle.store" }],
    target: { text: "< 2 ms", maxValue: 2000 },
  });
  return rows;
}

export const ROW_SPECS: readonly RowSpec[] = [
  ...latencyRows("", ""),
  ...latencyRows("pinned.", ", both ends pinned to one core (taskset -c 1)"),
  ...pipelinedRows(),
  ...largeRows(),
  ...scalingRows(),
  ...spillRows(),
  ...clusterRows(),
];

/** The figures of the Limits table: key and how to show it. */
export const LIMITS: readonly { name: string; key: string; kind: RowKind; bytes?: number }[] = [
  { name: "Unix-socket ping-pong between two Bun processes", key: "pingpong", kind: "latency" },
  { name: "the same, pinned to one core", key: "pinned.pingpong", kind: "latency" },
  { name: "one bun:ffi call (getpid)", key: "ffi.call", kind: "latency" },
  ...[KiB, MiB, 64 * MiB, 256 * MiB, GiB].map((bytes) => ({
    name: `memcpy ${sizeLabel(bytes)} (Uint8Array.set, pre-touched)`,
    key: `memcpy.${sizeLabel(bytes)}`,
    kind: "bandwidth" as const,
    bytes,
  })),
];

function value(metrics: Metrics, key: string): number | null {
  const v = metrics[key];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

export function buildRows(metrics: Metrics, specs: readonly RowSpec[] = ROW_SPECS): Row[] {
  return specs.map((spec) => {
    const oursValue = value(metrics, spec.ours);
    const baselineValues = spec.baselines.map((b) => value(metrics, b.key));
    const ratios = baselineValues.map((b) => {
      if (b === null || oursValue === null || oursValue === 0) return null;
      return spec.kind === "opsPerS" ? oursValue / b : b / oursValue;
    });
    let met: boolean | null = null;
    const t = spec.target;
    if (t !== undefined && oursValue !== null) {
      if (t.maxValue !== undefined) met = oursValue < t.maxValue;
      else {
        const index = spec.baselines.findIndex((b) => b.name === t.baseline);
        const ratio = ratios[index];
        met = ratio === null || ratio === undefined ? null : ratio >= (t.minRatio ?? 1);
        if (spec.ours === "store.get.seq.64MiB" && met === true) {
          const fileRatio = ratios[spec.baselines.findIndex((b) => b.key.startsWith("files.arrayBuffer"))];
          met = fileRatio !== null && fileRatio !== undefined && fileRatio >= 1000;
        }
      }
    }
    return { ...spec, oursValue, baselineValues, ratios, met };
  });
}

export function formatValue(v: number | null, kind: RowKind, bytes?: number): string {
  if (v === null) return "—";
  switch (kind) {
    case "latency":
      return v >= 10_000
        ? `${(v / 1000).toFixed(1)} ms`
        : v >= 100
          ? `${v.toFixed(0)} µs`
          : `${v.toFixed(v < 1 ? 3 : 1)} µs`;
    case "bandwidth":
      return `${((bytes ?? 0) / (v * 1000)).toFixed(2)} GB/s`;
    case "opsPerS":
      return `${Math.round(v).toLocaleString("en-US")} ops/s`;
    case "bytes":
      return `${Math.round(v)} B`;
  }
}

function formatRatio(r: number | null): string {
  if (r === null) return "—";
  return r >= 100 ? `${Math.round(r).toLocaleString("en-US")}×` : `${r.toFixed(2)}×`;
}

/** The Markdown report: machine, limits, then one table per group. */
export function renderMarkdown(rows: readonly Row[], metrics: Metrics, header: string[]): string {
  const out: string[] = [...header, ""];
  out.push("**Limits**", "", "| limit | figure |", "| --- | --- |");
  for (const l of LIMITS) out.push(`| ${l.name} | ${formatValue(value(metrics, l.key), l.kind, l.bytes)} |`);
  let group = "";
  for (const row of rows) {
    if (row.group !== group) {
      group = row.group;
      out.push(
        "",
        `**${group}**`,
        "",
        "| row | this store | baselines (same run) | ratio (>1: ours better) | target | met | Plasma (issue) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
      );
    }
    const baselines = row.baselines
      .map((b, i) => `${b.name} ${formatValue(row.baselineValues[i] ?? null, row.kind, row.bytes)}`)
      .join("; ");
    const ratios = row.baselines.map((b, i) => `${formatRatio(row.ratios[i] ?? null)} ${b.name}`).join("; ");
    const met = row.met === null ? "" : row.met ? "yes" : "**no**";
    out.push(
      `| ${row.name} | ${formatValue(row.oursValue, row.kind, row.bytes)} | ${baselines || "—"} | ${ratios || "—"} | ${row.target?.text ?? ""} | ${met} | ${row.plasma ?? ""} |`,
    );
  }
  return out.join("\n");
}
