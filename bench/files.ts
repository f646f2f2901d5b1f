/** Files in /dev/shm: Bun.write here, then Bun.mmap or Bun.file().arrayBuffer() in another process. */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { expectLine, spawnLineChild } from "./lib/child.ts";
import { type BenchOptions, type Metrics, sectionMain } from "./lib/env.ts";
import { MiB, opsFor, sequentialUs, sizeLabel, touchedBuffer } from "./lib/measure.ts";
import { VALUE_SIZES } from "./redis.ts";

export async function run(options: BenchOptions): Promise<Metrics> {
  const metrics: Metrics = {};
  const base = existsSync("/dev/shm") ? "/dev/shm" : "/tmp";
  const dir = mkdtempSync(join(base, "plasma-bench-files-"));
  const reader = spawnLineChild(["bun", join(import.meta.dir, "workers/file-reader.ts")]);
  try {
    await expectLine(reader, "ready");
    const repeats = options.quick ? 3 : 7;
    const budget = (options.quick ? 8 : 64) * MiB;
    for (const bytes of VALUE_SIZES) {
      const label = sizeLabel(bytes);
      const data = touchedBuffer(bytes);
      const ops = opsFor(bytes, budget, options.quick ? 2 : 5, options.quick ? 1000 : 10_000);
      const paths = Array.from({ length: Math.min(ops, 256) }, (_, i) => join(dir, `${label}-${i}`));
      metrics[`files.write.${label}`] = await sequentialUs({ ops, repeats }, (i) =>
        Bun.write(paths[i % paths.length] as string, data),
      );
      const path = paths[0] as string;
      for (const mode of ["mmap", "arrayBuffer"] as const) {
        reader.send(`read ${path} ${mode} ${ops}`);
        metrics[`files.${mode}.${label}`] = Number((await reader.nextLine()).split(" ")[0]);
      }
      for (const p of paths) rmSync(p, { force: true });
    }
  } finally {
    await reader.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return metrics;
}

if (import.meta.main) await sectionMain(run);
