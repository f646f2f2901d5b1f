// A well-behaved client process: stores and reads back an object, deletes every object in the store,
// and prints JSON: {"roundTrip":bool,"listed":N,"invariants":"ok"|...,"deletedAtOnce":N}.
import { connect, ObjectID } from "../../../src/client/index.ts";
import { storeInvariants } from "../helpers.ts";

const [socketPath] = process.argv.slice(2);
const client = await connect(socketPath as string);
const id = ObjectID.fromRandom();
const buffer = await client.create(id, 1000, new TextEncoder().encode("meta"));
buffer.fill(0xab);
await client.seal(id);
const [read] = await client.getBuffers([id], { withMeta: true, timeoutMs: 10_000 });
const roundTrip =
  read?.data.every((b) => b === 0xab) === true && new TextDecoder().decode(read.metadata) === "meta";
await client.release(id);
// The reference lives with the buffer: `read` is used after the release so it stays reachable until then.
const readBytes = read?.data.length ?? 0;
const listed = await client.list();
let deleted = 0;
for (let i = 0; i < listed.length; i += 1000)
  deleted += await client.delete(listed.slice(i, i + 1000).map((o) => o.id));
const invariants = await storeInvariants(client);
await client.disconnect();
console.log(
  JSON.stringify({ roundTrip, listed: listed.length, invariants, deletedAtOnce: deleted, readBytes }),
);
