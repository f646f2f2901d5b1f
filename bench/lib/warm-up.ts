/**
 * Warming a fresh plasma_store up before it is measured. The store is JavaScript: its request path runs in
 * the interpreter and the lower JIT tiers for its first tens of thousands of requests (a fresh store's
 * 1 KiB createAndSeal measured 65-80 µs, the same store after 25,000 of them 22 µs). A store in
 * production is a long-running daemon, always past that point; Redis, the baseline, is C and needs no
 * warm-up. So every section that times small requests first sends each kind of request this many times.
 */
import { type ObjectID as Id, ObjectID, type PlasmaClient } from "../../src/client/index.ts";

/** Rounds for a full run (about 4 s); `--quick` runs one. */
export const WARM_UP_ROUNDS = 6;
const PER_ROUND = 4000;
const IN_FLIGHT = 64;

/** Runs every request kind rounds × 4,000 times, sequentially and pipelined; leaves nothing behind. */
export async function warmUpStore(client: PlasmaClient, rounds = WARM_UP_ROUNDS): Promise<void> {
  const data = new Uint8Array(1024).fill(0x5a);
  for (let round = 0; round < rounds; round++) {
    const fresh: Id[] = Array.from({ length: PER_ROUND }, () => ObjectID.fromRandom());
    for (const id of fresh) await client.createAndSeal(id, data);
    for (const id of fresh) {
      const [buffer] = await client.getBuffers([id], { timeoutMs: 0 });
      if (buffer === null || buffer === undefined) throw new Error("warm-up: an object went missing");
      await client.release(id);
      await client.contains(id);
    }
    await client.delete(fresh);
    for (let i = 0; i < PER_ROUND / 4; i++) {
      const id = fresh[i] as Id;
      (await client.create(id, data.length)).set(data);
      await client.seal(id);
      await client.release(id);
    }
    for (let i = 0; i < PER_ROUND; i += IN_FLIGHT) {
      const wave = fresh.slice(i, i + IN_FLIGHT);
      await Promise.all(wave.map((id) => client.contains(id)));
      await Promise.all(
        wave.map(async (id) => {
          const [buffer] = await client.getBuffers([id], { timeoutMs: 0 });
          if (buffer !== null && buffer !== undefined) await client.release(id);
        }),
      );
    }
    await client.delete(fresh);
  }
}
