import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { RaceConfig } from "./fixtures/race-common.ts";

interface Finished {
  kind: string;
  output: string;
  killed: boolean;
  exitCode: number | null;
  pinsLeft: number;
}

interface Report {
  stats: Record<"published" | "removeRequests" | "frees" | "deferredScans" | "accesses" | "kills", number>;
  finished: Finished[];
  pendingAfter: number;
  freeBlocksAfter: number;
  sealedAfter: number;
  usedSlotsAfter: number;
  lookupsLeft: number;
}

async function runWriter(config: RaceConfig): Promise<Report> {
  const proc = Bun.spawn(
    [process.execPath, join(import.meta.dir, "fixtures", "race-writer.ts"), JSON.stringify(config)],
    {
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (exitCode !== 0) throw new Error(`race writer exited ${exitCode}: ${stderr}`);
  const line = stdout.split("\n").find((l) => l.startsWith("REPORT "));
  if (line === undefined) throw new Error(`no report from the race writer: ${stdout} ${stderr}`);
  return JSON.parse(line.slice("REPORT ".length)) as Report;
}

/** Every reader's output: no mismatch line from anyone, and a clean summary from each one not killed. */
function checkReaders(report: Report, config: RaceConfig): void {
  const readers = report.finished.filter((f) => f.kind === "reader");
  expect(readers.length).toBe(config.readers + config.kills);
  for (const reader of readers) expect(reader.output).not.toContain("MISMATCH");
  const survivors = readers.filter((r) => !r.killed);
  expect(survivors.length).toBe(config.readers);
  let hits = 0;
  for (const survivor of survivors) {
    expect(survivor.exitCode).toBe(0);
    expect(survivor.pinsLeft).toBe(0);
    const summary = JSON.parse(survivor.output.trim().split("\n").at(-1) as string) as Record<string, number>;
    expect(summary.mismatches).toBe(0);
    expect(summary.pinnedAtExit).toBe(0);
    hits += summary.hits as number;
  }
  expect(hits).toBeGreaterThan(0);
}

function checkAccounting(report: Report, config: RaceConfig): void {
  expect(report.stats.kills).toBe(config.kills);
  expect(report.stats.frees).toBe(report.stats.removeRequests);
  expect(report.stats.removeRequests).toBeGreaterThan(0);
  expect(report.pendingAfter).toBe(0);
  expect(report.freeBlocksAfter).toBe(config.blocks);
  expect(report.sealedAfter).toBe(0);
  expect(report.usedSlotsAfter).toBe(0);
  expect(report.lookupsLeft).toBe(0);
  expect(report.stats.accesses).toBeGreaterThan(0);
}

const BASE: RaceConfig = {
  readers: 6,
  readerOps: 40_000,
  kills: 6,
  hostile: false,
  idSpace: 96,
  blocks: 48,
  blockBytes: 512,
  capacity: 256,
  pinSlots: 64,
};

describe("the shared directory across real processes", () => {
  test("readers pin and verify while one writer removes and reuses memory; killed readers lose their pins", async () => {
    const report = await runWriter(BASE);
    checkReaders(report, BASE);
    checkAccounting(report, BASE);
    // Pins really deferred some frees: the protocol was exercised, not bypassed.
    expect(report.stats.deferredScans).toBeGreaterThan(0);
  });

  test("a hostile client cannot map the directory writable, and its garbage pins change no accounting", async () => {
    const config: RaceConfig = { ...BASE, readers: 3, kills: 2, hostile: true };
    const report = await runWriter(config);
    const hostile = report.finished.find((f) => f.kind === "hostile");
    expect(hostile?.killed).toBe(true);
    const attempt = JSON.parse((hostile?.output ?? "").split("\n")[0] as string) as {
      refused: { viaReadWriteOpen: number; viaReadOnlyOpen: number };
      EPERM: number;
      EACCES: number;
    };
    expect(attempt.refused.viaReadWriteOpen).toBe(attempt.EPERM);
    expect(attempt.refused.viaReadOnlyOpen).toBe(attempt.EACCES);
    checkReaders(report, config);
    checkAccounting(report, config);
  });
});
