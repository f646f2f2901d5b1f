// Walkthrough §5-7: create an object buffer, write it, seal it, and read it from another process with
// getBuffers; then metadata and the other calls.
import { connect, ObjectID } from "bun-plasma";

const socketPath = process.env.PLASMA_SOCKET ?? process.argv[2] ?? "/tmp/plasma";

if (process.argv.includes("--read")) {
  // The second client: [buffer2] = client2.get_buffers([object_id])
  const client2 = await connect(socketPath);
  const id = ObjectID.fromHex(process.argv[process.argv.length - 1] as string);
  const [buffer2] = await client2.getBuffers([id]);
  if (buffer2 === null || buffer2 === undefined) throw new Error("object not found");
  console.log(`second process: ${buffer2.byteLength} bytes, buffer2[1:4] = [${[...buffer2.subarray(1, 4)]}]`);
  console.log(`second process: buffer2[999] = ${buffer2[999]}`);
  await client2.disconnect();
  process.exit(0);
}

const client = await connect(socketPath);
// object_id = plasma.ObjectID(20 * b"a") — a fresh random one here so the example can run twice
const objectId = ObjectID.fromRandom();
// buffer = memoryview(client.create(object_id, 1000))
const buffer = await client.create(objectId, 1000);
for (let i = 0; i < 1000; i++) buffer[i] = i % 128;
// client.seal(object_id)
await client.seal(objectId);
await client.release(objectId);
console.log(`sealed ${objectId.hex()}: ${await client.contains(objectId)}`);

const reader = Bun.spawn([process.execPath, import.meta.path, socketPath, "--read", objectId.hex()], {
  stdout: "inherit",
  stderr: "inherit",
});
if ((await reader.exited) !== 0) throw new Error("the reading process failed");

// Metadata: client.create(object_id, size, metadata)
const withMeta = ObjectID.fromRandom();
const data = await client.create(withMeta, 3, new TextEncoder().encode("my metadata"));
data.set([7, 8, 9]);
await client.seal(withMeta);
await client.release(withMeta);
const [meta] = await client.getMetadata([withMeta]);
console.log(`metadata: ${new TextDecoder().decode(meta as Uint8Array)}`);
const info = (await client.list()).find((o) => o.id.equals(withMeta));
console.log(`list: dataSize=${info?.dataSize} metadataSize=${info?.metadataSize} state=${info?.state}`);
await client.disconnect();
