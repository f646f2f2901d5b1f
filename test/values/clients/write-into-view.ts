// Gets a Float64Array stored by put() and writes into it: the read-only mapping must kill this process.
import { connect, ObjectID } from "../../../src/client/index.ts";

const [socketPath, hex] = process.argv.slice(2);
const client = await connect(socketPath as string);
const array = (await client.get(ObjectID.fromHex(hex as string))) as Float64Array;
console.log(`read ${array[0]}`);
array[0] = 42;
console.log("wrote (this line must never print)");
