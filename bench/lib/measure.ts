/** Timing helpers: every figure is a median over repeats, each repeat timing many operations. */

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** Short size labels used in metric keys and row names: 100B, 1KiB, 64KiB, 1MiB, 64MiB, 256MiB, 1GiB. */
export function sizeLabel(bytes: number): string {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB}GiB`;
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB}MiB`;
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB}KiB`;
  return `${bytes}B`;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function nowNs(): number {
  return Bun.nanoseconds();
}

export interface RepeatOptions {
  /** Operations per repeat. */
  ops: number;
  /** Timed repeats (one more untimed warm-up repeat runs first). */
  repeats: number;
  /** Untimed work before each repeat (e.g. deleting what the last repeat created). */
  before?: (repeat: number) => Promise<void> | void;
  /** Untimed work after each repeat. */
  after?: (repeat: number) => Promise<void> | void;
}

/** Median µs per operation of `op(i)` run sequentially (each awaited before the next). */
export async function sequentialUs(
  options: RepeatOptions,
  op: (i: number, repeat: number) => Promise<unknown> | unknown,
): Promise<number> {
  const samples: number[] = [];
  for (let repeat = -1; repeat < options.repeats; repeat++) {
    await options.before?.(repeat);
    const start = nowNs();
    for (let i = 0; i < options.ops; i++) await op(i, repeat);
    const elapsedNs = nowNs() - start;
    await options.after?.(repeat);
    if (repeat >= 0) samples.push(elapsedNs / 1000 / options.ops);
  }
  return median(samples);
}

/** Median µs per operation with `inFlight` operations outstanding (issued in waves, awaited together). */
export async function pipelinedUs(
  options: RepeatOptions & { inFlight: number },
  op: (i: number, repeat: number) => Promise<unknown>,
): Promise<number> {
  const samples: number[] = [];
  const wave: Promise<unknown>[] = new Array(options.inFlight);
  for (let repeat = -1; repeat < options.repeats; repeat++) {
    await options.before?.(repeat);
    const start = nowNs();
    for (let i = 0; i < options.ops; ) {
      let n = 0;
      for (; n < options.inFlight && i < options.ops; n++, i++) wave[n] = op(i, repeat);
      await Promise.all(n === options.inFlight ? wave : wave.slice(0, n));
    }
    const elapsedNs = nowNs() - start;
    await options.after?.(repeat);
    if (repeat >= 0) samples.push(elapsedNs / 1000 / options.ops);
  }
  return median(samples);
}

/** Synchronous variant of sequentialUs, for in-process baselines (memcpy, FFI calls). */
export function syncUs(options: { ops: number; repeats: number }, op: (i: number) => void): number {
  const samples: number[] = [];
  for (let repeat = -1; repeat < options.repeats; repeat++) {
    const start = nowNs();
    for (let i = 0; i < options.ops; i++) op(i);
    const elapsedNs = nowNs() - start;
    if (repeat >= 0) samples.push(elapsedNs / 1000 / options.ops);
  }
  return median(samples);
}

/** GB/s (10^9 bytes per second) for `bytes` moved in `us` microseconds. */
export function gbPerS(bytes: number, us: number): number {
  return bytes / (us * 1000);
}

/** How many operations to time for objects of `bytes`: about `budgetBytes` moved, clamped. */
export function opsFor(bytes: number, budgetBytes: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, Math.floor(budgetBytes / Math.max(bytes, 1))));
}

/** A buffer of `bytes` with every page written (so copies from it measure the copy, not faults). */
export function touchedBuffer(bytes: number, fill = 0x5a): Uint8Array {
  const buffer = new Uint8Array(bytes);
  buffer.fill(fill);
  return buffer;
}
