// A client process (often run as another uid through setpriv): connects, stores and reads back one
// object, and prints one JSON line: {"ok":true,"uid":N} or {"error":Name,"code":Code,"message":...}.
import { connect, ObjectID, type PlasmaError } from "../../../src/client/index.ts";

const [socketPath] = process.argv.slice(2);
try {
  const client = await connect(socketPath as string);
  const id = ObjectID.fromRandom();
  await client.createAndSeal(id, new TextEncoder().encode("from another uid"));
  const ok = await client.contains(id);
  await client.delete(id);
  await client.disconnect();
  console.log(JSON.stringify({ ok, uid: process.getuid?.() }));
} catch (error) {
  const e = error as PlasmaError;
  console.log(JSON.stringify({ error: e.name, code: e.code, message: e.message }));
}
