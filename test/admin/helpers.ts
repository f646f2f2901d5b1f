import { join } from "node:path";
import { testEnv } from "../helpers/run.ts";

export { type AdminStore, adminAddresses, startAdminStore } from "../helpers/admin-store.ts";

export const ADMIN_CLI = join(import.meta.dir, "../../src/admin/cli.ts");
export const FIXTURES = join(import.meta.dir, "fixtures");

/** Runs plasma-admin; resolves with its output and exit code. */
export async function runAdminCli(
  args: string[],
  options: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string; bytes: Uint8Array }> {
  const proc = Bun.spawn(["bun", ADMIN_CLI, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    env: testEnv(options.env),
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  const [bytes, stderr, code] = await Promise.all([
    new Response(proc.stdout).bytes(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { code, stdout: new TextDecoder().decode(bytes), stderr, bytes };
}

/** A deterministic byte pattern, so data read back can be checked without keeping a copy. */
export function pattern(sizeBytes: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(sizeBytes);
  for (let i = 0; i < sizeBytes; i++) bytes[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return bytes;
}

export function hexId(n: number): string {
  return n.toString(16).padStart(40, "0");
}
