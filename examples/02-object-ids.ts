// Walkthrough §3: object IDs are 20 bytes.
import { ObjectID } from "bun-plasma";

// id = plasma.ObjectID(20 * b"a")
const id = new ObjectID("a".repeat(20));
console.log(String(id));
// random_id = plasma.ObjectID(np.random.bytes(20))
const randomId = ObjectID.fromRandom();
console.log(`random id: ${randomId.hex().length / 2} bytes, ${randomId.equals(id) ? "same" : "different"}`);
console.log(`round trip through hex: ${ObjectID.fromHex(id.hex()).equals(id)}`);
