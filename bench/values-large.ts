/**
 * Values API with a large object: put() of a 100,000,000-element Float64Array (800 MB) next to
 * `Uint8Array.set` of the same bytes between two already-touched buffers (the cost of the one copy into
 * shared memory), and get() of that 800 MB object next to get() of an 8-byte one (both zero-copy views).
 *
 *   bun bench/values-large.ts [--elements N] [--repeats R]
 *
 * The store runs with --prefault and the client maps with populate, so the put measures the copy and the
 * protocol, not first-touch page faults (those are reported separately: "cold put").
 */
import { parseArgs } from "node:util";
import { connect, ObjectID } from "../src/client/index.ts";
import { startStore } from "./lib/env.ts";
import { median, nowNs } from "./lib/measure.ts";

const { values: args } = parseArgs({
  args: process.argv.slice(2),
  options: { elements: { type: "string" }, repeats: { type: "string" } },
});
const elements = Number(args.elements ?? 100_000_000);
const repeats = Number(args.repeats ?? 5);
const bytes = elements * 8;
const gbps = (ms: number) => (bytes / 1e9 / (ms / 1000)).toFixed(2);

const source = new Float64Array(elements);
for (let i = 0; i < elements; i++) source[i] = i * 0.5;
const sourceBytes = new Uint8Array(source.buffer);

// Baseline: Uint8Array.set between touched buffers.
const dest = new Uint8Array(bytes);
dest.fill(1);
const setMs: number[] = [];
for (let r = 0; r < repeats; r++) {
  const t = nowNs();
  dest.set(sourceBytes);
  setMs.push((nowNs() - t) / 1e6);
}

const store = await startStore(Math.ceil((bytes + 64 * 1024 * 1024) / (1024 * 1024)) * 1024 * 1024, [
  "--prefault",
]);
try {
  const client = await connect(store.socketPath, { populate: true });
  // Cold put: the first write to these pages through this client's mapping.
  const coldId = ObjectID.fromRandom();
  let t = nowNs();
  await client.put(source, { id: coldId });
  const coldMs = (nowNs() - t) / 1e6;
  await client.delete(coldId);

  const putMs: number[] = [];
  let id = ObjectID.fromRandom();
  for (let r = 0; r < repeats; r++) {
    id = ObjectID.fromRandom();
    t = nowNs();
    await client.put(source, { id });
    putMs.push((nowNs() - t) / 1e6);
    if (r < repeats - 1) await client.delete(id);
  }

  const small = await client.put(Float64Array.of(1));
  const getUs = async (target: ObjectID) => {
    const samples: number[] = [];
    for (let i = 0; i < 200; i++) {
      const s = nowNs();
      const value = (await client.get(target)) as Float64Array;
      samples.push((nowNs() - s) / 1000);
      if (value.length === 0) throw new Error("empty");
      await client.release(target);
    }
    return median(samples);
  };
  const bigGet = await getUs(id);
  const smallGet = await getUs(small);
  const check = (await client.get(id)) as Float64Array;
  if (check.length !== elements || check[elements - 1] !== (elements - 1) * 0.5)
    throw new Error("bad read back");

  const m = (xs: number[]) => median(xs);
  console.log(`object: Float64Array of ${elements} elements = ${bytes} bytes; ${repeats} repeats, medians`);
  console.log(
    `Uint8Array.set (same bytes, touched buffers): ${m(setMs).toFixed(1)} ms  (${gbps(m(setMs))} GB/s)`,
  );
  console.log(
    `put (create + one copy + seal):              ${m(putMs).toFixed(1)} ms  (${gbps(m(putMs))} GB/s)`,
  );
  console.log(
    `cold put (first touch of the pages):          ${coldMs.toFixed(1)} ms  (${gbps(coldMs)} GB/s)`,
  );
  console.log(`get ${bytes} bytes (zero-copy view):         ${bigGet.toFixed(1)} µs`);
  console.log(`get 8 bytes:                                  ${smallGet.toFixed(1)} µs`);
  await client.disconnect();
} finally {
  await store.stop();
}
