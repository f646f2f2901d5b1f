// Connects, gets each object id given (hex) and prints one JSON description per line.
import { connect, ObjectID } from "../../../src/client/index.ts";
import { describe } from "../describe.ts";

const [socketPath, ...hexes] = process.argv.slice(2);
const client = await connect(socketPath as string);
for (const hex of hexes) {
  try {
    console.log(JSON.stringify(describe(await client.get(ObjectID.fromHex(hex), { timeoutMs: 10_000 }))));
  } catch (error) {
    const e = error as { name: string; code?: string };
    console.log(JSON.stringify({ error: e.name, code: e.code }));
  }
}
await client.disconnect();
