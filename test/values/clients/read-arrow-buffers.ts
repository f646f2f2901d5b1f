// The reading half of the walkthrough's low-level path: getBuffers, then read the IPC stream to a Table
// and to plain rows. Prints the schema, then the rows as JSON, and the column buffers' offsets.
import { connect, ObjectID, readArrowStream } from "../../../src/client/index.ts";

const [socketPath, hex] = process.argv.slice(2);
const client = await connect(socketPath as string);
const [data] = await client.getBuffers([ObjectID.fromHex(hex as string)], { timeoutMs: 10_000 });
if (data === null || data === undefined) throw new Error("object not found");
const table = readArrowStream(data);
console.log(table.schema.fields.map((f) => `${f.name}: ${f.type}`).join(", "));
console.log(JSON.stringify(table.toArray().map((row) => row.toJSON())));
const column = table.getChildAt(0)?.data[0]?.values as Float64Array;
console.log(JSON.stringify({ sameBuffer: column.buffer === data.buffer, byteOffset: column.byteOffset }));
await client.disconnect();
