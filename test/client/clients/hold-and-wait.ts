// A client process that gets into a state and then waits to be killed: argv[3] is the state.
//   creating  — holds an unsealed object of argv[4] bytes
//   holding   — holds a reference to the sealed object argv[4] (hex)
//   getting   — blocked in a get of the absent object argv[4] (hex)
import { connect, ObjectID } from "../../../src/client/index.ts";

const [socketPath, state, arg] = process.argv.slice(2);
const client = await connect(socketPath as string);
if (state === "creating") {
  await client.create(ObjectID.fromRandom(), Number(arg));
  console.log("ready");
} else if (state === "holding") {
  const [buffer] = await client.getBuffers([ObjectID.fromHex(arg as string)]);
  console.log(buffer === null ? "missing" : "ready");
} else if (state === "getting") {
  const pending = client.getBuffers([ObjectID.fromHex(arg as string)]);
  // The store answers one connection's requests in order: once this reply is in, the get waits there.
  await client.contains(ObjectID.fromRandom());
  console.log("ready");
  await pending;
}
await Bun.sleep(600_000);
