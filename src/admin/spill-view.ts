/** The spill figures of the admin plane's stats (GetStats, /v1/stats, the dashboard), issue 16. */
import type { SpillStats } from "../store/spill-sink.ts";

/** Field names are the camelCase of admin.proto's SpillStats; drops are victims dropped instead of spilled. */
export interface SpillStatsView {
  spilledObjects: number;
  spilledBytes: number;
  diskBudgetBytes: number;
  diskUsedBytes: number;
  spillsInFlight: number;
  restoresInFlight: number;
  spills: number;
  spilledBytesTotal: number;
  restores: number;
  restoredBytesTotal: number;
  restoreFailures: number;
  drops: { budget: number; diskFull: number; ioError: number };
}

/** The view of the core's spill figures; null when the store runs without spilling. */
export function spillStatsView(s: SpillStats | null): SpillStatsView | null {
  if (s === null) return null;
  return {
    spilledObjects: s.spilledCount,
    spilledBytes: s.spilledBytes,
    diskBudgetBytes: s.budgetBytes,
    diskUsedBytes: s.diskUsedBytes,
    spillsInFlight: s.spillingCount,
    restoresInFlight: s.restoringCount,
    spills: s.spills,
    spilledBytesTotal: s.spillBytesTotal,
    restores: s.restores,
    restoredBytesTotal: s.restoreBytesTotal,
    restoreFailures: s.restoreFailures,
    drops: { budget: s.drops.budget, diskFull: s.drops["disk-full"], ioError: s.drops["io-error"] },
  };
}
