/** Reading `bun --cpu-prof` output: self time per function, largest first. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time by function (name, file and line) of the one .cpuprofile in `dir`, as [label, µs], largest first. */
export function selfTimesIn(dir: string): [string, number][] {
  const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
  if (file === undefined) throw new Error(`no .cpuprofile in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const frame = byId.get(profile.samples[i] as number)?.callFrame;
    if (frame === undefined) continue;
    const path = frame.url.split("/").slice(-2).join("/");
    const label = `${frame.functionName || "(anonymous)"} ${path}:${frame.lineNumber + 1}`;
    totals.set(label, (totals.get(label) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  return [...totals].sort((a, b) => b[1] - a[1]);
}

/** Prints the `top` functions with their share of the sampled time. */
export function printSelfTimes(times: readonly [string, number][], top: number): void {
  const totalUs = times.reduce((sum, [, us]) => sum + us, 0);
  console.log(`self time by function (of ${(totalUs / 1000).toFixed(0)} ms sampled):`);
  for (const [label, us] of times.slice(0, top)) {
    console.log(`${((100 * us) / totalUs).toFixed(1).padStart(6)}%  ${label}`);
  }
}
