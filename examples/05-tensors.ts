// Walkthrough §8 "Storing Arrow objects": a 10×4 tensor written straight into a plasma buffer, read back
// as a zero-copy view. Then the one-call form, putTensor/get.
import {
  connect,
  FixedSizeBufferWriter,
  getTensorSize,
  ObjectID,
  readTensor,
  Tensor,
  writeTensor,
} from "bun-plasma";

const socketPath = process.env.PLASMA_SOCKET ?? process.argv[2] ?? "/tmp/plasma";
const client = await connect(socketPath);

// data = np.random.randn(10, 4) — seeded here so the output is the same on every run
let seed = 42;
const uniform = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const randn = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
const data = Float64Array.from({ length: 40 }, randn);
// tensor = pa.Tensor.from_numpy(data)
const tensor = new Tensor(data, [10, 4]);

// object_id = plasma.ObjectID(np.random.bytes(20)); data_size = pa.ipc.get_tensor_size(tensor)
const objectId = ObjectID.fromRandom();
const dataSize = getTensorSize(tensor);
console.log(`tensor ${tensor.dtype} [${tensor.shape}] needs ${dataSize} bytes`);
// buf = client.create(object_id, data_size); stream = pa.FixedSizeBufferWriter(buf)
const buf = await client.create(objectId, dataSize);
const stream = new FixedSizeBufferWriter(buf);
// pa.ipc.write_tensor(tensor, stream); client.seal(object_id)
writeTensor(tensor, stream);
await client.seal(objectId);
await client.release(objectId);

// [buf2] = client.get_buffers([object_id]); tensor2 = pa.ipc.read_tensor(pa.BufferReader(buf2))
const [buf2] = await client.getBuffers([objectId]);
const tensor2 = readTensor(buf2 as Uint8Array);
console.log(`read back: ${tensor2.dtype} [${tensor2.shape}], strides [${tensor2.strides}]`);
console.log(
  `zero-copy: data is a view on the plasma buffer at byte ${tensor2.data.byteOffset}: ${tensor2.data.buffer === buf2?.buffer}`,
);
console.log(`same values: ${tensor2.data.every((v, i) => v === data[i])}`);
console.log(`row 0: [${(tensor2.toArray()[0] as number[]).map((v) => v.toFixed(4)).join(", ")}]`);

// The one-call form.
const id2 = await client.putTensor(
  new Tensor(
    Int32Array.from({ length: 6 }, (_, i) => i),
    [2, 3],
    { order: "F" },
  ),
);
const back = (await client.get(id2)) as Tensor;
console.log(`putTensor/get: ${back.dtype} [${back.shape}] ${JSON.stringify(back.toArray())}`);
await client.disconnect();
