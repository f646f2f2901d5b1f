/**
 * Process B of the cross-process handoff. `store SOCKET SEED COUNT` waits in get for objects
 * id(SEED, 0..COUNT-1); `redis URL KEY COUNT` waits in BLPOP on KEY. For each one it notes the monotonic
 * clock (ns) the moment the data is in hand, then prints them all as one JSON line.
 */
import { RedisClient } from "bun";
import { connect } from "../../src/client/index.ts";
import { monotonicNs } from "../lib/clock.ts";
import { handoffId } from "../lib/handoff-ids.ts";

const [kind, target, seedOrKey, countText] = process.argv.slice(2);
const count = Number(countText);
const times: number[] = [];
if (kind === "store") {
  const client = await connect(target as string, { retries: 50 });
  console.log("ready");
  for (let i = 0; i < count; i++) {
    const id = handoffId(Number(seedOrKey), i);
    const [buffer] = await client.getBuffers([id], { timeoutMs: 60_000 });
    times.push(monotonicNs());
    if (buffer === null || buffer === undefined) throw new Error(`object ${i} did not arrive`);
    await client.release(id);
  }
  await client.disconnect();
} else {
  const client = new RedisClient(target as string);
  await client.connect();
  console.log("ready");
  for (let i = 0; i < count; i++) {
    const got = await client.send("BLPOP", [seedOrKey as string, "60"]);
    times.push(monotonicNs());
    if (got === null) throw new Error(`value ${i} did not arrive`);
  }
  client.close();
}
console.log(JSON.stringify(times));
