// A client process that keeps the store busy (createAndSeal, get, release, delete in a loop) until its
// connection fails; then prints the error's class and what a later call gives, as JSON, and exits 0.
import { connect, ObjectID, type PlasmaError } from "../../../src/client/index.ts";

const [socketPath] = process.argv.slice(2);
const client = await connect(socketPath as string);
let rounds = 0;
try {
  for (;;) {
    const id = ObjectID.fromRandom();
    await client.createAndSeal(id, new Uint8Array(1024).fill(rounds & 0xff));
    const [buffer] = await client.getBuffers([id]);
    if (buffer?.[0] !== (rounds & 0xff)) throw new Error("content mismatch");
    if (buffer === null || buffer === undefined) throw new Error("missing");
    await client.release(id);
    if (buffer.length !== 1024) throw new Error("wrong length"); // keeps the buffer reachable until the release
    await client.delete(id);
    if (++rounds === 50) console.log("busy");
  }
} catch (error) {
  const later = await client.contains(ObjectID.fromRandom()).catch((e: unknown) => e as PlasmaError);
  console.log(
    JSON.stringify({ rounds, error: (error as PlasmaError).name, later: (later as PlasmaError).name }),
  );
}
