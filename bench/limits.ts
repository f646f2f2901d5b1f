/** The hardware's and runtime's limits: memcpy, a raw Unix-socket ping-pong, a raw FFI call. */
import { dlopen, FFIType } from "bun:ffi";
import { rmSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { expectLine, spawnLineChild } from "./lib/child.ts";
import { type BenchOptions, type Metrics, sectionMain, tempDir } from "./lib/env.ts";
import { GiB, KiB, MiB, median, nowNs, sizeLabel, syncUs, touchedBuffer } from "./lib/measure.ts";

/** `Uint8Array.set` between pre-touched buffers, µs per copy: metric `memcpy.<size>`. */
export function measureMemcpy(sizes: readonly number[], quick: boolean): Metrics {
  const metrics: Metrics = {};
  for (const bytes of sizes) {
    const src = touchedBuffer(bytes, 1);
    const dst = touchedBuffer(bytes, 2);
    const ops = Math.max(1, Math.min(100_000, Math.floor(((quick ? 128 : 2048) * MiB) / bytes)));
    metrics[`memcpy.${sizeLabel(bytes)}`] = syncUs({ ops, repeats: quick ? 3 : 7 }, () => dst.set(src));
  }
  return metrics;
}

/** Round trip of 32 bytes between this process and an echoing Bun process, µs. */
export async function measurePingPong(quick: boolean): Promise<number> {
  const dir = tempDir();
  const socketPath = join(dir, "echo.sock");
  const child = spawnLineChild(["bun", join(import.meta.dir, "workers/echo-server.ts"), socketPath]);
  try {
    await expectLine(child, "ready");
    let wake: (() => void) | null = null;
    const socket = await Bun.connect({
      unix: socketPath,
      socket: {
        data() {
          const w = wake;
          wake = null;
          w?.();
        },
      },
    });
    const message = new Uint8Array(32);
    const ops = quick ? 3000 : 20_000;
    const samples: number[] = [];
    for (let repeat = -1; repeat < (quick ? 3 : 7); repeat++) {
      const start = nowNs();
      for (let i = 0; i < ops; i++) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          socket.write(message);
        });
      }
      if (repeat >= 0) samples.push((nowNs() - start) / 1000 / ops);
    }
    socket.end();
    return median(samples);
  } finally {
    await child.stop();
    try {
      unlinkSync(socketPath);
    } catch {
      // Gone with the process.
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One bun:ffi call into libc (getpid), µs. */
export function measureFfiCall(quick: boolean): number {
  const lib = dlopen("libc.so.6", { getpid: { args: [], returns: FFIType.i32 } });
  try {
    return syncUs({ ops: quick ? 200_000 : 2_000_000, repeats: quick ? 3 : 7 }, () => {
      lib.symbols.getpid();
    });
  } finally {
    lib.close();
  }
}

export async function run(options: BenchOptions): Promise<Metrics> {
  const metrics: Metrics = {};
  metrics.pingpong = await measurePingPong(options.quick);
  if (options.pinned) return metrics;
  metrics["ffi.call"] = measureFfiCall(options.quick);
  Object.assign(metrics, measureMemcpy([KiB, MiB, 64 * MiB, 256 * MiB, GiB], options.quick));
  return metrics;
}

if (import.meta.main) await sectionMain(run);
