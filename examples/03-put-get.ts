// Walkthrough §4: putting and getting values.
import { connect } from "bun-plasma";

const socketPath = process.env.PLASMA_SOCKET ?? process.argv[2] ?? "/tmp/plasma";
const client = await connect(socketPath);

// object_id = client.put("hello, world"); client.get(object_id)
const objectId = await client.put("hello, world");
console.log(JSON.stringify(await client.get(objectId)));

// Typed arrays are stored raw and come back as zero-copy views of the same type.
const arrayId = await client.put(Float64Array.of(1.5, 2.5, 3.5));
const array = (await client.get(arrayId)) as Float64Array;
console.log(`${array.constructor.name} [${array.join(", ")}]`);

// Other structured-cloneable values are copied in and out.
const mapId = await client.put(new Map([["answer", 42]]));
console.log(JSON.stringify([...((await client.get(mapId)) as Map<string, number>)]));
await client.disconnect();
