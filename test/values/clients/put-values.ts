// Puts one value of each native format under fixed ids (argument: the id prefix byte, hex) and exits.
import { tableFromArrays } from "apache-arrow";
import { connect, ObjectID, Tensor } from "../../../src/client/index.ts";

const [socketPath, prefix] = process.argv.slice(2);
const client = await connect(socketPath as string);
const id = (n: number) => ObjectID.fromHex(`${prefix}${n.toString(16).padStart(2, "0")}`.padEnd(40, "0"));
await client.put(new Float64Array([0.5, -1, 1e300]), { id: id(1) });
await client.put(new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]), { id: id(2) });
await client.putTensor(
  new Tensor(
    Int32Array.from({ length: 6 }, (_, i) => i),
    [2, 3],
  ),
  { id: id(3) },
);
await client.put(tableFromArrays({ x: Int32Array.of(1, 2), y: ["p", "q"] }), { id: id(4) });
await client.put(new Uint16Array(0), { id: id(5) });
console.log(`held ${client.heldObjectCount}`);
await client.disconnect();
