// A client process: gets the object argv[3] (hex) and prints its data and metadata as text.
import { connect, ObjectID } from "../../../src/client/index.ts";

const [socketPath, hex] = process.argv.slice(2);
const client = await connect(socketPath as string);
const [entry] = await client.getBuffers([ObjectID.fromHex(hex as string)], {
  withMeta: true,
  timeoutMs: 10_000,
});
if (entry === null || entry === undefined) {
  console.log("missing");
} else {
  console.log(
    JSON.stringify({
      data: new TextDecoder().decode(entry.data),
      metadata: new TextDecoder().decode(entry.metadata),
    }),
  );
}
console.log(
  JSON.stringify(await client.get(ObjectID.fromHex("ab".repeat(20)), { timeoutMs: 10_000 }), (_k, v) =>
    v instanceof Map ? [...v] : v,
  ),
);
await client.disconnect();
