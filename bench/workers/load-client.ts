/**
 * One of N load-generating client processes for the scaling rows. Args: `store SOCKET SEED COUNT` or
 * `redis URL PREFIX COUNT`, then optionally `write`. Prints "ready", waits for "go DURATION_MS" on stdin,
 * runs sequential get+release (GET) of COUNT objects round-robin for that long, or with `write`
 * createAndSeal of fresh 1 KiB objects (SET of 1 KiB values), prints the number of operations.
 */
import { RedisClient } from "bun";
import { connect, ObjectID } from "../../src/client/index.ts";
import { handoffId } from "../lib/handoff-ids.ts";

const [kind, target, seedOrPrefix, countText, mode] = process.argv.slice(2);
const count = Number(countText);
const writes = mode === "write";
const value = new Uint8Array(1024).fill(7);

async function waitForGo(): Promise<number> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of Bun.stdin.stream()) {
    text += decoder.decode(chunk, { stream: true });
    const match = /go (\d+)\n/.exec(text);
    if (match !== null) return Number(match[1]);
  }
  throw new Error("stdin closed before go");
}

let ops = 0;
if (kind === "store") {
  const client = await connect(target as string, { retries: 100 });
  const ids: ObjectID[] = Array.from({ length: count }, (_, i) => handoffId(Number(seedOrPrefix), i));
  console.log("ready");
  const durationMs = await waitForGo();
  const end = performance.now() + durationMs;
  while (writes && performance.now() < end) {
    await client.createAndSeal(ObjectID.fromRandom(), value);
    ops++;
    // Keeps the store from filling up: each process deletes what it made, a round at a time.
    if (ops % 1000 === 0) await client.evict(64 * 1024 * 1024);
  }
  while (!writes && performance.now() < end) {
    const id = ids[ops % count] as ObjectID;
    const [buffer] = await client.getBuffers([id], { timeoutMs: 0 });
    if (buffer === null || buffer === undefined) throw new Error(`object ${ops % count} is missing`);
    await client.release(id);
    ops++;
  }
  await client.disconnect();
} else {
  const client = new RedisClient(target as string);
  await client.connect();
  const keys = Array.from({ length: count }, (_, i) => `${seedOrPrefix}${i}`);
  console.log("ready");
  const durationMs = await waitForGo();
  const end = performance.now() + durationMs;
  while (writes && performance.now() < end) {
    await client.set(`${seedOrPrefix}w${process.pid}.${ops % count}`, value);
    ops++;
  }
  while (!writes && performance.now() < end) {
    if ((await client.getBuffer(keys[ops % count] as string)) === null) throw new Error("key is missing");
    ops++;
  }
  client.close();
}
console.log(String(ops));
