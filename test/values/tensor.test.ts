import { ptr } from "bun:ffi";
import { expect, describe as group, test } from "bun:test";
import { join } from "node:path";
import {
  FixedSizeBufferWriter,
  getTensorSize,
  InvalidValueError,
  MockOutputStream,
  ObjectID,
  readTensor,
  TENSOR_ALIGNMENT_BYTES,
  Tensor,
  VALUE_METADATA_PREFIX,
  ValueFormatError,
  writeTensor,
} from "../../src/client/index.ts";
import { runClientProcess } from "../helpers/store-process.ts";
import { CLIENTS, useStoreAndClient } from "./fixture.ts";

const fx = useStoreAndClient();

const range = (n: number) => Float64Array.from({ length: n }, (_, i) => i);

group("Tensor", () => {
  test("shape, strides (bytes, C and F order), element access and nested arrays", () => {
    const c = new Tensor(range(6), [2, 3]);
    expect(c.dtype).toBe("float64");
    expect(c.strides).toEqual([24, 8]);
    expect(c.isContiguous).toBe(true);
    expect(c.at(1, 2)).toBe(5);
    expect(c.toArray()).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    const f = new Tensor(range(6), [2, 3], { order: "F" });
    expect(f.strides).toEqual([8, 16]);
    expect(f.isContiguous).toBe(false);
    expect(f.toArray()).toEqual([
      [0, 2, 4],
      [1, 3, 5],
    ]);
    // a transposed view through explicit strides
    const t = new Tensor(range(6), [3, 2], { strides: [8, 24] });
    expect(t.toArray()).toEqual([
      [0, 3],
      [1, 4],
      [2, 5],
    ]);
    expect(new Tensor(new Int32Array(0), [0, 4]).size).toBe(0);
    expect(new Tensor(Float32Array.of(7), []).toArray()).toEqual([7]);
  });

  test("shapes and strides that do not fit the data throw InvalidValueError", () => {
    expect(() => new Tensor(range(5), [2, 3])).toThrow(InvalidValueError);
    expect(() => new Tensor(range(6), [2, -3])).toThrow(InvalidValueError);
    expect(() => new Tensor(range(6), [2, 3], { strides: [24] })).toThrow(InvalidValueError);
    expect(() => new Tensor(range(6), [2, 3], { strides: [24, 4] })).toThrow(InvalidValueError);
    expect(() => new Tensor(range(6), [2, 3], { strides: [32, 8] })).toThrow(InvalidValueError);
    expect(() => new Tensor([1, 2] as unknown as Float64Array, [2])).toThrow(InvalidValueError);
  });
});

group("tensors in the store", () => {
  test("putTensor/get round-trips dtype, shape, strides and values; the data is a zero-copy aligned view", async () => {
    const data = Float64Array.from({ length: 40 }, (_, i) => Math.sin(i));
    const tensor = new Tensor(data, [10, 4]);
    const id = await fx.client.putTensor(tensor);
    const back = (await fx.client.get(id)) as Tensor;
    expect(back).toBeInstanceOf(Tensor);
    expect(back.dtype).toBe("float64");
    expect(back.shape).toEqual([10, 4]);
    expect(back.strides).toEqual([32, 8]);
    expect(back.toArray()).toEqual(tensor.toArray());
    const [raw] = await fx.client.getBuffers([id]);
    if (raw === null || raw === undefined) throw new Error("object missing");
    expect(raw.byteLength).toBe(getTensorSize(tensor));
    expect(back.data.byteOffset % TENSOR_ALIGNMENT_BYTES).toBe(0);
    expect(ptr(back.data) as number).toBe((ptr(raw) as number) + back.data.byteOffset);
    expect((ptr(back.data) as number) % 64).toBe(0);
    await fx.client.release(id);
    await fx.client.release(id);
  });

  test("every element type, F order, strided, empty and 0-d tensors", async () => {
    const cases = [
      new Tensor(BigInt64Array.of(-1n, 2n ** 62n, 3n, 4n), [2, 2]),
      new Tensor(Uint8Array.of(1, 2, 3, 4, 5, 6), [3, 2], { order: "F" }),
      new Tensor(range(6), [3, 2], { strides: [8, 24] }),
      new Tensor(new Float32Array(0), [0, 3]),
      new Tensor(Int16Array.of(-7), []),
      new Tensor(Float16Array.of(0.5, 1.5), [2]),
    ];
    for (const tensor of cases) {
      const back = (await fx.client.get(await fx.client.put(tensor))) as Tensor;
      expect(back.dtype).toBe(tensor.dtype);
      expect(back.shape).toEqual(tensor.shape);
      expect(back.strides).toEqual(tensor.strides);
      expect(back.toArray()).toEqual(tensor.toArray());
    }
  });

  test("the low-level path: getTensorSize, create, writeTensor, seal; another process reads it", async () => {
    const tensor = new Tensor(
      Int32Array.from({ length: 12 }, (_, i) => i * i),
      [3, 4],
    );
    const mock = new MockOutputStream();
    expect(writeTensor(tensor, mock)).toBe(getTensorSize(tensor));
    const id = ObjectID.fromRandom();
    const buffer = await fx.client.create(id, getTensorSize(tensor));
    writeTensor(tensor, new FixedSizeBufferWriter(buffer));
    await fx.client.seal(id);
    await fx.client.release(id);
    const [raw] = await fx.client.getBuffers([id]);
    expect(readTensor(raw as Uint8Array).toArray()).toEqual(tensor.toArray());
    await fx.client.release(id);
    // put() of a tensor is readable by another process through get()
    const other = await fx.client.putTensor(tensor);
    const reader = await runClientProcess(join(CLIENTS, "describe-objects.ts"), [
      fx.store.socketPath,
      other.hex(),
    ]);
    expect(reader.code).toBe(0);
    expect(JSON.parse(reader.stdout)).toEqual({
      kind: "Tensor",
      dtype: "int32",
      shape: [3, 4],
      strides: [16, 4],
      values: tensor.toArray(),
    });
  });

  test("corrupt tensors give ValueFormatError; a too-small buffer gives InvalidValueError", async () => {
    const good = new Uint8Array(getTensorSize(new Tensor(range(4), [2, 2])));
    writeTensor(new Tensor(range(4), [2, 2]), new FixedSizeBufferWriter(good));
    expect(readTensor(good).toArray()).toEqual([
      [0, 1],
      [2, 3],
    ]);
    const badHeader = good.slice();
    badHeader[10] = 0x7b; // break the JSON
    const wrongMagic = good.slice();
    wrongMagic[0] = 0;
    for (const bytes of [good.slice(0, 70), badHeader, wrongMagic, new Uint8Array(3)]) {
      expect(() => readTensor(bytes)).toThrow(ValueFormatError);
      const id = ObjectID.fromRandom();
      await fx.client.createAndSeal(id, bytes, new TextEncoder().encode(`${VALUE_METADATA_PREFIX}tensor\n`));
      const error = await fx.client.get(id).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValueFormatError);
    }
    expect(() => writeTensor(new Tensor(range(4)), new FixedSizeBufferWriter(new Uint8Array(40)))).toThrow(
      InvalidValueError,
    );
  });
});
