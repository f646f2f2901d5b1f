/**
 * `bun run bench --quick` runs every benchmark section against real processes (plasma_store, redis-server,
 * helper Bun processes) and writes a table with every row. No timing is asserted: only that the suite
 * runs end to end and reports a figure for every row it promises.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROW_SPECS, type Row } from "../bench/rows.ts";
import { hugePagesProblem } from "./helpers/huge-pages.ts";
import { prerequisite } from "./helpers/prerequisites.ts";
import { runCommand } from "./helpers/run.ts";

const hasHugePages = prerequisite(
  "2 MiB huge pages (root, writable nr_hugepages)",
  hugePagesProblem(),
  "the bench's huge-page rows must be empty instead",
);
let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "plasma-bench-test-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test(
  "bun run bench --quick prints and writes a table with a figure for every row",
  async () => {
    const out = join(dir, "quick.json");
    const { stdout, stderr, code } = await runCommand(["bun", "run", "bench", "--quick", "--out", out], {
      cwd: join(import.meta.dir, ".."),
      timeoutMs: 300_000,
    });
    if (code !== 0) console.error(stderr);
    expect(code).toBe(0);

    const report = JSON.parse(readFileSync(out, "utf8")) as {
      machine: { cores: number; bunVersion: string; pageSizeBytes: number };
      quick: boolean;
      sections: { name: string; error: string | null }[];
      rows: Row[];
    };
    expect(report.quick).toBe(true);
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(report.machine.bunVersion).toBe(Bun.version);
    expect(report.machine.pageSizeBytes).toBeGreaterThan(0);
    expect(report.sections.filter((s) => s.error !== null)).toEqual([]);

    // The huge-page rows need root (the suite reserves the pages itself): where this machine lacks the
    // rights (outside CI only) the suite must say so and leave exactly those rows empty.
    const noHugePages = stderr.includes("cannot reserve huge pages");
    expect(noHugePages).toBe(!hasHugePages);
    expect(report.rows.map((r) => r.name)).toEqual(ROW_SPECS.map((r) => r.name));
    for (const row of report.rows) {
      if (noHugePages && row.ours.startsWith("large.put.huge.")) continue;
      // Rows only a full run measures (the 1 GiB spill and restore) stay empty in a quick one.
      if (row.fullOnly === true) {
        expect({ row: row.name, ours: row.oursValue }).toEqual({ row: row.name, ours: null });
        continue;
      }
      expect({ row: row.name, ours: row.oursValue }).toEqual({ row: row.name, ours: expect.any(Number) });
      expect(row.oursValue as number).toBeGreaterThan(0);
      for (const [i, value] of row.baselineValues.entries()) {
        expect({ row: row.name, baseline: row.baselines[i]?.name, value }).toEqual({
          row: row.name,
          baseline: row.baselines[i]?.name,
          value: expect.any(Number),
        });
      }
    }

    // The Markdown table went to stdout and next to the JSON, with the machine line and every row.
    const markdown = readFileSync(join(dir, "quick.md"), "utf8");
    expect(stdout).toContain(markdown.trim().split("\n")[0] as string);
    expect(markdown).toMatch(/^Machine: .*\d+ cores.*page size \d+ B.*Bun \d/m);
    for (const spec of ROW_SPECS) expect(markdown).toContain(`| ${spec.name} |`);
    expect(existsSync(out)).toBe(true);
  },
  { timeout: 400_000 },
);
