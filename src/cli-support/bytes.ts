import { UsageError } from "./usage-error.ts";

/** Byte counts as people type them (flags) and read them (tables), shared by plasma_store and plasma-admin. */

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
};

/**
 * Parses a byte count: "1000000000", "1e9", "512MiB", "2G" (binary: K, M, G, T, KiB, …) or "500MB"
 * (decimal: kB, MB, GB, TB). Throws UsageError unless the result is a positive whole number of bytes.
 */
export function parseBytes(text: string, what = "size"): number {
  const match = /^\s*([0-9]+(?:\.[0-9]+)?(?:[eE][+]?[0-9]+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = match?.[2]?.toLowerCase() ?? "";
  const multiplier = UNITS[unit];
  if (match === null || multiplier === undefined) {
    throw new UsageError(
      `Cannot read ${what} ${JSON.stringify(text)}: use bytes (1000000000, 1e9) or a unit (512MiB, 2G, 1GB).`,
    );
  }
  const value = Number(match[1]) * multiplier;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new UsageError(
      `${what} ${JSON.stringify(text)} must be a positive whole number of bytes below 2^53.`,
    );
  }
  return value;
}

/** A byte count for people: "512 B", "1.5 KiB", "256 MiB" (binary units, one decimal below 100). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

/** A byte count as the flags take it, without spaces: 64MiB, 1.5GiB, 4096B (for messages that name a flag). */
export function formatBytesCompact(bytes: number): string {
  const units: Array<[number, string]> = [
    [1024 ** 4, "TiB"],
    [1024 ** 3, "GiB"],
    [1024 ** 2, "MiB"],
    [1024, "KiB"],
  ];
  for (const [size, unit] of units) {
    if (bytes >= size) {
      const value = bytes / size;
      return `${Number.isInteger(value) ? value : value.toFixed(1)}${unit}`;
    }
  }
  return `${bytes}B`;
}
