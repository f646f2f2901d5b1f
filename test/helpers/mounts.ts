/** Mounts for the tests that need a filesystem of their own (tmpfs of a given size, hugetlbfs); root only. */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Mounts `mount ARGS WHERE` (creating WHERE); null when it worked, else why not. */
export function mount(args: string[], where: string): string | null {
  mkdirSync(where, { recursive: true });
  const r = spawnSync("mount", [...args, where], { encoding: "utf8" });
  if (r.status === 0) return null;
  return `mount ${args.join(" ")} failed: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`;
}

export function unmount(where: string): void {
  spawnSync("umount", [where]);
}

/** Why `mount ARGS` cannot be done here (null when it can): tries it on a scratch directory and undoes it. */
export function mountProblem(args: string[]): string | null {
  const dir = mkdtempSync(join(tmpdir(), "plasma-mount-probe-"));
  try {
    const problem = mount(args, dir);
    if (problem === null) unmount(dir);
    return problem;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
