/** Facts of the machine the tests run on, asked for instead of assumed. */

/** The base page size (getconf PAGESIZE): 4096 on x86-64, 16384 or 65536 on some arm64 kernels. */
export function systemPageSizeBytes(): number {
  const result = Bun.spawnSync(["getconf", "PAGESIZE"]);
  const bytes = Number(result.stdout.toString().trim());
  if (!result.success || !Number.isInteger(bytes) || bytes <= 0) {
    throw new Error(`getconf PAGESIZE failed: ${result.stderr.toString()}`);
  }
  return bytes;
}
