/** CLOCK_MONOTONIC through bun:ffi: one clock every process on the machine shares (Bun's own timers
 * count from each process's start, so they cannot time a handoff between processes). */
import { dlopen, FFIType } from "bun:ffi";

const CLOCK_MONOTONIC = 1;
const libc = dlopen("libc.so.6", {
  clock_gettime: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
});
const timespec = new BigInt64Array(2);

/** Nanoseconds on CLOCK_MONOTONIC, as a number (exact to well below a microsecond). */
export function monotonicNs(): number {
  libc.symbols.clock_gettime(CLOCK_MONOTONIC, timespec);
  return Number(timespec[0]) * 1e9 + Number(timespec[1]);
}
