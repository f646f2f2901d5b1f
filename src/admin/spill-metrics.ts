/** Prometheus metrics of spilling (issue 16), registered only when the store spills. */
import { Counter, Gauge, type Registry } from "prom-client";
import type { SpillStats } from "../store/spill-sink.ts";
import type { StoreCore } from "../store/store.ts";

type NumericField = Exclude<keyof SpillStats, "drops">;

const GAUGES: readonly [NumericField, string, string][] = [
  ["spilledCount", "plasma_spilled_objects", "Objects spilled to the spill directory (not in memory)."],
  ["spilledBytes", "plasma_spilled_bytes", "Bytes (data + metadata) of spilled objects."],
  [
    "diskUsedBytes",
    "plasma_spill_disk_used_bytes",
    "Spill file bytes on disk plus reservations of spills in flight.",
  ],
  ["budgetBytes", "plasma_spill_disk_budget_bytes", "The disk budget of the spill files (--spill-max)."],
  ["spillingCount", "plasma_spills_in_flight", "Spills being written now."],
  ["restoringCount", "plasma_restores_in_flight", "Restores being read now."],
];

const COUNTERS: readonly [NumericField, string, string][] = [
  ["spills", "plasma_spills_total", "Objects spilled (file durable, memory freed or kept) since start."],
  ["spillBytesTotal", "plasma_spilled_bytes_total", "Bytes (data + metadata) spilled since start."],
  [
    "spillSecondsTotal",
    "plasma_spill_seconds_total",
    "Seconds spent writing spill files (summed per spill).",
  ],
  ["restores", "plasma_restores_total", "Spilled objects restored into memory since start."],
  ["restoreBytesTotal", "plasma_restored_bytes_total", "Bytes restored since start."],
  [
    "restoreSecondsTotal",
    "plasma_restore_seconds_total",
    "Seconds spent reading spill files (summed per restore).",
  ],
  ["restoreFailures", "plasma_restore_failures_total", "Restores that failed (no room, or a bad file)."],
];

export function registerSpillMetrics(r: Registry, core: StoreCore): void {
  const stats = () => core.spillStats() as SpillStats;
  for (const [field, name, help] of GAUGES) {
    new Gauge({
      name,
      help,
      registers: [r],
      collect() {
        this.set(stats()[field]);
      },
    });
  }
  for (const [field, name, help] of COUNTERS) {
    new Counter({
      name,
      help,
      registers: [r],
      collect() {
        this.reset();
        this.inc(stats()[field]);
      },
    });
  }
  new Counter({
    name: "plasma_spill_drops_total",
    help: "Evicted objects dropped instead of spilled, by reason (budget, disk-full, io-error).",
    labelNames: ["reason"],
    registers: [r],
    collect() {
      this.reset();
      for (const [reason, count] of Object.entries(stats().drops)) this.inc({ reason }, count);
    },
  });
}
