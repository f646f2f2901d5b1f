/** Spilling in the composition root: open the directory before the core, the edge after the arena. */
import type { Logger } from "../log.ts";
import { defaultSpillBudgetBytes, openSpillDirectory, type SpillDirectory } from "../spill/directory.ts";
import { SpillEdge } from "../spill/edge.ts";
import type { StoreCore } from "../store/store.ts";
import type { SpillConfig } from "./spill-config.ts";

export interface OpenedSpill {
  directory: SpillDirectory;
  budgetBytes: number;
}

/** Creates or checks DIR, takes its lock, scans it (throws SpillDirectoryError / SpillDirectoryLockedError). */
export function openSpill(config: SpillConfig, log: Logger, maxMetadataBytes: number): OpenedSpill {
  const directory = openSpillDirectory(config.directory, {
    logger: log,
    sizeLimits: { maxDataSizeBytes: Number.MAX_SAFE_INTEGER, maxMetadataSizeBytes: maxMetadataBytes },
  });
  try {
    const budgetBytes = config.maxBytes ?? defaultSpillBudgetBytes(config.directory);
    return { directory, budgetBytes };
  } catch (error) {
    directory.close();
    throw error;
  }
}

/** The edge over the core and the arena, with the scanned files adopted. */
export function startSpillEdge(
  core: StoreCore,
  opened: OpenedSpill,
  arenaAddress: number,
  log: Logger,
): SpillEdge {
  const edge = new SpillEdge({ core, directory: opened.directory, arenaAddress, logger: log });
  const adopted = edge.adoptScanned();
  core.attachSpillSink(edge);
  log.info({ directory: opened.directory.path, budgetBytes: opened.budgetBytes, adopted }, "spilling on");
  return edge;
}

/** Stops the edge; with --spill-on-stop, first spills every sealed object nobody holds and logs it. */
export async function stopSpillEdge(
  core: StoreCore,
  edge: SpillEdge,
  onStop: boolean,
  log: Logger,
): Promise<void> {
  if (onStop) {
    const startMs = performance.now();
    const before = core.spillStats();
    core.spillAll();
    await edge.drain();
    const after = core.spillStats();
    log.info(
      {
        objects: (after?.spills ?? 0) - (before?.spills ?? 0),
        bytes: (after?.spillBytesTotal ?? 0) - (before?.spillBytesTotal ?? 0),
        durationMs: Math.round(performance.now() - startMs),
        notSpilled: core.stats().sealedCount,
      },
      "spilled every sealed object before stopping",
    );
  }
  await edge.close();
}
