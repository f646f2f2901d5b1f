#!/usr/bin/env bun
/**
 * `bun run bench [--quick] [--out FILE.json] [--only a,b] [--merge] [--markdown FILE.md]`: runs every section in
 * its own process (the latency sections twice: unpinned, then with everything pinned to one core by taskset),
 * then prints the machine, the limits and the comparison tables in Markdown and writes them as JSON (and .md).
 * `--markdown FILE.md` also writes them as a stand-alone document with a title, the date and the command
 * (`--markdown docs/performance-results.md` regenerates the results page of the docs).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { ensureRedisServer, type Metrics, machineInfo, REPO_ROOT } from "./lib/env.ts";
import { type RunDescription, reportHeader, resultsDocument } from "./report.ts";
import { buildRows, type Row, renderMarkdown } from "./rows.ts";

interface SectionPlan {
  name: string;
  pinned: boolean;
}

export const SECTIONS = [
  "limits",
  "redis",
  "files",
  "store",
  "large",
  "handoff",
  "scaling",
  "spill",
  "cluster",
] as const;
const PINNED_SECTIONS = ["limits", "redis", "store", "handoff"] as const;

interface SectionResult extends SectionPlan {
  seconds: number;
  error: string | null;
}

function parseArgs(argv: readonly string[]) {
  const flagValue = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const quick = argv.includes("--quick");
  return {
    quick,
    out: flagValue("--out") ?? join(import.meta.dir, "results", quick ? "quick.json" : "latest.json"),
    only: flagValue("--only")?.split(",") ?? null,
    /** Keep the figures already in --out and replace only those measured now (re-running one section). */
    merge: argv.includes("--merge"),
    /** Also write the tables as a stand-alone Markdown document (the docs' results page). */
    markdown: flagValue("--markdown") ?? null,
    /** How this run was invoked, for the generated document's "regenerate with" line. */
    command: ["bun run bench", ...argv].join(" "),
  };
}

type BenchArgs = ReturnType<typeof parseArgs>;

interface RunOutput {
  run: RunDescription;
  sections: SectionResult[];
  metrics: Metrics;
  rows: Row[];
}

/** Prints the Markdown and writes the JSON, the .md beside it and, with --markdown, the document. */
function writeOutputs(args: BenchArgs, output: RunOutput): void {
  const { run, sections, metrics, rows } = output;
  const markdown = renderMarkdown(rows, metrics, reportHeader(run));
  console.log(markdown);
  mkdirSync(dirname(args.out), { recursive: true });
  const report = { machine: run.machine, quick: run.quick, sections, metrics, rows };
  writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${args.out.replace(/\.json$/, "")}.md`, `${markdown}\n`);
  console.error(`bench: wrote ${args.out}`);
  if (args.markdown !== null) {
    const explanation = relative(dirname(args.markdown), join(REPO_ROOT, "docs", "performance.md"));
    mkdirSync(dirname(args.markdown), { recursive: true });
    writeFileSync(args.markdown, resultsDocument(run, markdown, args.command, explanation));
    console.error(`bench: wrote ${args.markdown}`);
  }
}

async function runSection(
  plan: SectionPlan,
  quick: boolean,
  timeoutMs: number,
): Promise<{ metrics: Metrics; error: string | null }> {
  const script = join(import.meta.dir, `${plan.name}.ts`);
  const args = ["bun", script, "--json", ...(quick ? ["--quick"] : []), ...(plan.pinned ? ["--pinned"] : [])];
  const cmd = plan.pinned ? ["taskset", "-c", "1", ...args] : args;
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "inherit", stdin: "ignore" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const stdout = await new Response(proc.stdout).text();
  const code = await proc.exited;
  clearTimeout(timer);
  const line = stdout.split("\n").find((l) => l.startsWith("METRICS "));
  if (code !== 0 || line === undefined) {
    return {
      metrics: {},
      error: `exited with ${code ?? proc.signalCode}${line === undefined ? ", no metrics" : ""}`,
    };
  }
  return { metrics: JSON.parse(line.slice("METRICS ".length)) as Metrics, error: null };
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  ensureRedisServer();
  const canPin = Bun.which("taskset") !== null && navigator.hardwareConcurrency > 1;
  const plans: SectionPlan[] = [
    ...SECTIONS.map((name) => ({ name, pinned: false })),
    ...(canPin ? PINNED_SECTIONS.map((name) => ({ name, pinned: true })) : []),
  ].filter((p) => args.only === null || args.only.includes(p.name));
  const metrics: Metrics = {};
  const results: SectionResult[] = [];
  if (args.merge && existsSync(args.out)) {
    const previous = JSON.parse(readFileSync(args.out, "utf8")) as {
      metrics: Metrics;
      sections: SectionResult[];
    };
    Object.assign(metrics, previous.metrics);
    results.push(
      ...previous.sections.filter((s) => !plans.some((p) => p.name === s.name && p.pinned === s.pinned)),
    );
  }
  const started = performance.now();
  for (const plan of plans) {
    const t0 = performance.now();
    console.error(`bench: ${plan.name}${plan.pinned ? " (pinned to cpu 1)" : ""}…`);
    const timeoutMs = args.quick ? 90_000 : 900_000;
    let { metrics: m, error } = await runSection(plan, args.quick, timeoutMs);
    if (error !== null) {
      // One more try: a section runs real processes on a shared machine, and one failed run says little.
      // The first failure stays on stderr (with the output of any store that died) for whoever reads it.
      console.error(`bench: ${plan.name} failed (${error}); running it once more`);
      ({ metrics: m, error } = await runSection(plan, args.quick, timeoutMs));
    }
    for (const [key, v] of Object.entries(m)) metrics[plan.pinned ? `pinned.${key}` : key] = v;
    const seconds = (performance.now() - t0) / 1000;
    results.push({ ...plan, seconds, error });
    if (error !== null) console.error(`bench: ${plan.name} failed: ${error}`);
  }
  const run = {
    machine: machineInfo(),
    quick: args.quick,
    tookSeconds: (performance.now() - started) / 1000,
  };
  writeOutputs(args, { run, sections: results, metrics, rows: buildRows(metrics) });
  const failed = results.filter((r) => r.error !== null);
  if (failed.length > 0) {
    console.error(`bench: ${failed.length} section(s) failed: ${failed.map((f) => f.name).join(", ")}`);
    return 1;
  }
  return 0;
}

if (import.meta.main) process.exit(await main());
