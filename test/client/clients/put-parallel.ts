// A client process with copyThreads: puts large objects through put(), createAndSeal() and create() +
// copyInto(), prints each id with the XXH64 of what it wrote, and then returns without process.exit:
// the copy workers must not keep the process alive.
import { connect, ObjectID } from "../../../src/client/index.ts";

const [socketPath, threads] = process.argv.slice(2);
const client = await connect(socketPath as string, { copyThreads: Number(threads) });

function pattern(bytes: number, seed: number): Uint8Array {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (i * 31 + seed + (i >>> 12)) & 0xff;
  return data;
}
const out: Record<string, { id: string; bytes: number; xxh64: string }> = {};
const record = (name: string, id: ObjectID, data: Uint8Array) => {
  out[name] = { id: id.hex(), bytes: data.length, xxh64: Bun.hash.xxHash64(data).toString(16) };
};

const viaPut = pattern(40 * 1024 * 1024 + 12_345, 1);
record("put", await client.put(viaPut), viaPut);

const viaCreateAndSeal = pattern(24 * 1024 * 1024 + 7, 2);
const sealedId = ObjectID.fromRandom();
await client.createAndSeal(sealedId, viaCreateAndSeal);
record("createAndSeal", sealedId, viaCreateAndSeal);

const viaCopyInto = pattern(20 * 1024 * 1024, 3);
const createdId = ObjectID.fromRandom();
const target = await client.create(createdId, viaCopyInto.length + 100);
await client.copyInto(target, viaCopyInto);
target.fill(9, viaCopyInto.length);
await client.seal(createdId);
await client.release(createdId);
const written = new Uint8Array(viaCopyInto.length + 100);
written.set(viaCopyInto);
written.fill(9, viaCopyInto.length);
record("copyInto", createdId, written);

console.log(JSON.stringify({ held: client.heldObjectCount, objects: out }));
await client.disconnect();
