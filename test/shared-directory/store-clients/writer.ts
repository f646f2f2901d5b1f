/**
 * The writer of the store-level race test: creates, seals, deletes and evicts objects of ID_SPACE in a
 * store too small for them, so memory is reused all the time. Ends by deleting every id it may have left.
 */
import { connect, ObjectExistsError, StoreFullError } from "../../../src/client/index.ts";
import { contentOf, ID_SPACE, objectIdOf, prng } from "./common.ts";

const [socketPath, opsText] = process.argv.slice(2) as [string, string];
const client = await connect(socketPath);
const random = prng(7);
const counts = { created: 0, exists: 0, full: 0, deletedNow: 0, evictedBytes: 0 };
const contents = Array.from({ length: ID_SPACE }, (_, n) => contentOf(n));
for (let op = 0; op < Number(opsText); op++) {
  const n = Math.floor(random() * ID_SPACE);
  const choice = random();
  try {
    if (choice < 0.7) {
      await client.createAndSeal(objectIdOf(n), contents[n] as Uint8Array);
      counts.created++;
    } else if (choice < 0.95) {
      counts.deletedNow += await client.delete(objectIdOf(n));
    } else {
      counts.evictedBytes += await client.evict(32 * 1024);
    }
  } catch (error) {
    if (error instanceof ObjectExistsError) counts.exists++;
    else if (error instanceof StoreFullError) counts.full++;
    else throw error;
  }
}
await client.delete(Array.from({ length: ID_SPACE }, (_, n) => objectIdOf(n)));
process.stdout.write(`${JSON.stringify(counts)}\n`);
await client.disconnect();
