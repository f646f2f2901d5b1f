// A client process: waits for argv[3] ms, then creates and seals the ids given in argv[4..] with their hex as data.
import { connect, ObjectID } from "../../../src/client/index.ts";

const [socketPath, delayMs, ...hexIds] = process.argv.slice(2);
const client = await connect(socketPath as string);
await Bun.sleep(Number(delayMs));
for (const hex of hexIds) {
  const id = ObjectID.fromHex(hex);
  const buffer = await client.create(id, 20, new TextEncoder().encode(`meta-${hex.slice(0, 4)}`));
  buffer.set(id.binary());
  await client.seal(id);
}
console.log("sealed", hexIds.length);
await client.disconnect();
