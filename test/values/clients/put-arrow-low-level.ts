// The writing half of the low-level path: size with MockOutputStream, create, write the stream straight
// into the plasma buffer with FixedSizeBufferWriter, seal. Prints the id and the size.
import { tableFromArrays } from "apache-arrow";
import {
  connect,
  FixedSizeBufferWriter,
  MockOutputStream,
  ObjectID,
  writeArrowStream,
} from "../../../src/client/index.ts";

const [socketPath] = process.argv.slice(2);
const client = await connect(socketPath as string);
const table = tableFromArrays({ a: Float64Array.of(0.25, 0.5, 0.75), b: Int32Array.of(-1, 0, 1) });
const mock = new MockOutputStream();
writeArrowStream(table, mock);
const id = ObjectID.fromRandom();
const buffer = await client.create(id, mock.size());
const writer = new FixedSizeBufferWriter(buffer);
writeArrowStream(table, writer);
await client.seal(id);
await client.release(id);
console.log(JSON.stringify({ id: id.hex(), size: mock.size(), written: writer.position }));
await client.disconnect();
