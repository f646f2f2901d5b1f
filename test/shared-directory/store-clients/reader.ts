/**
 * A reader of the store-level race test: gets random objects (from the directory when it can), checks every
 * byte against the content its id implies, releases them. Prints "MISMATCH ..." at once, a JSON summary at
 * the end (a SIGKILLed reader prints none).
 */
import { connect } from "../../../src/client/index.ts";
import { byteOf, ID_SPACE, objectIdOf, prng, sizeOf } from "./common.ts";

const [socketPath, opsText, seedText] = process.argv.slice(2) as [string, string, string];
const client = await connect(socketPath);
const random = prng(Number(seedText));
const counts = { hits: 0, misses: 0, mismatches: 0, bytesChecked: 0 };
const ids = Array.from({ length: ID_SPACE }, (_, n) => objectIdOf(n));

function verify(n: number, data: Uint8Array): void {
  let good = data.length === sizeOf(n);
  for (let k = 0; good && k < data.length; k++) good = data[k] === byteOf(n, k);
  if (!good) {
    counts.mismatches++;
    process.stdout.write(`MISMATCH id ${n} length ${data.length}\n`);
  }
  counts.bytesChecked += data.length;
}

for (let op = 0; op < Number(opsText); op++) {
  const n = Math.floor(random() * ID_SPACE);
  const [data] = await client.getBuffers([ids[n] as (typeof ids)[number]], { timeoutMs: 0 });
  if (data === null || data === undefined) {
    counts.misses++;
  } else {
    counts.hits++;
    verify(n, data);
    // Hold some objects across turns of the event loop (checking them again before the release), so pins
    // overlap the writer's deletes and evictions.
    const id = ids[n] as (typeof ids)[number];
    if (random() < 0.6) {
      await client.release(id);
    } else {
      setTimeout(() => {
        verify(n, data);
        void client.release(id);
      }, 1);
    }
  }
  if (op % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
}
await Bun.sleep(5);
process.stdout.write(`${JSON.stringify(counts)}\n`);
await client.disconnect();
