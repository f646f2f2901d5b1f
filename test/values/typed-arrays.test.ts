import { ptr } from "bun:ffi";
import { expect, describe as group, test } from "bun:test";
import { join } from "node:path";
import {
  InvalidValueError,
  ObjectID,
  VALUE_METADATA_PREFIX,
  ValueFormatError,
} from "../../src/client/index.ts";
import { runClientProcess } from "../helpers/store-process.ts";
import { describe } from "./describe.ts";
import { CLIENTS, useStoreAndClient } from "./fixture.ts";

const enc = new TextEncoder();
const fx = useStoreAndClient();
const { refCountOf, refCountBecomes } = fx;

const bytes = (v: ArrayBufferView) => [...new Uint8Array(v.buffer, v.byteOffset, v.byteLength)];

const SAMPLES = [
  Int8Array.of(-128, 0, 127),
  Uint8Array.of(0, 1, 255),
  Uint8ClampedArray.of(0, 128, 255),
  Int16Array.of(-32768, 1, 32767),
  Uint16Array.of(0, 65535),
  Int32Array.of(-(2 ** 31), 7, 2 ** 31 - 1),
  Uint32Array.of(0, 2 ** 32 - 1),
  Float16Array.of(0.5, -2, 65504),
  Float32Array.of(1.5, Number.NaN, -0),
  Float64Array.of(Math.PI, Number.NEGATIVE_INFINITY, 1e-300),
  BigInt64Array.of(-(2n ** 63n), 0n, 2n ** 63n - 1n),
  BigUint64Array.of(0n, 2n ** 64n - 1n),
];

group("typed arrays", () => {
  test("every typed array type round-trips as the same type, and empty ones too", async () => {
    for (const sample of SAMPLES) {
      const ctor = sample.constructor as new (n: number) => ArrayBufferView;
      for (const value of [sample, new ctor(0)]) {
        const back = await fx.client.get(await fx.client.put(value));
        expect(back?.constructor).toBe(ctor);
        // compare bytes: typed-array equality treats NaN as unequal, and bytes also show -0 survives
        expect(bytes(back as ArrayBufferView)).toEqual(bytes(value));
        expect((back as ArrayBufferView).byteLength).toBe(value.byteLength);
      }
    }
  });

  test("a Buffer and a subarray with an odd offset are stored as their bytes", async () => {
    const source = Float64Array.of(1, 2, 3, 4);
    const sub = new Float64Array(source.buffer, 8, 2);
    expect(await fx.client.get(await fx.client.put(sub))).toEqual(Float64Array.of(2, 3));
    const buffer = Buffer.from("bytes!");
    const back = (await fx.client.get(await fx.client.put(buffer))) as Uint8Array;
    expect(back.constructor).toBe(Uint8Array);
    expect(new TextDecoder().decode(back)).toBe("bytes!");
  });

  test("get returns a view on the object in shared memory: same address as getBuffers, aligned, exact length", async () => {
    const id = await fx.client.put(Float64Array.of(1, 2, 3));
    const value = (await fx.client.get(id)) as Float64Array;
    const [raw] = await fx.client.getBuffers([id]);
    expect(raw).not.toBeNull();
    expect(ptr(value)).toBe(ptr(raw as Uint8Array));
    expect(ptr(value) % 64).toBe(0);
    expect(value.byteOffset).toBe(0);
    expect(value.buffer.byteLength).toBe(24);
    await fx.client.release(id);
    await fx.client.release(id);
  });

  test("ArrayBuffer round-trips as an ArrayBuffer view of the object, empty too", async () => {
    const bytes = Uint8Array.of(9, 8, 7, 6, 5);
    const back = await fx.client.get(await fx.client.put(bytes.buffer));
    expect(back).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(back as ArrayBuffer)]).toEqual([9, 8, 7, 6, 5]);
    const empty = await fx.client.get(await fx.client.put(new ArrayBuffer(0)));
    expect(empty).toBeInstanceOf(ArrayBuffer);
    expect((empty as ArrayBuffer).byteLength).toBe(0);
  });
});

group("lifetime", () => {
  test("a value from get keeps its object referenced until it is garbage-collected", async () => {
    const id = await fx.client.put(Int32Array.of(1, 2, 3));
    expect(await refCountOf(id)).toBe(0);
    await (async () => {
      const value = (await fx.client.get(id)) as Int32Array;
      expect(await refCountOf(id)).toBe(1);
      // delete while referenced: the object stays until the reference ends
      await fx.client.delete(id);
      expect(await fx.client.contains(id)).toBe(true);
      expect(value[2]).toBe(3);
    })();
    // once the array is unreachable the reference goes back and the pending delete happens
    expect(await refCountBecomes(id, undefined)).toBeUndefined();
    expect(await fx.client.contains(id)).toBe(false);
  });

  test("release(id) ends the reference of a value at once; structured-clone values hold nothing", async () => {
    const id = await fx.client.put(Uint8Array.of(1));
    const value = await fx.client.get(id);
    expect(value).toEqual(Uint8Array.of(1));
    expect(await refCountOf(id)).toBe(1);
    await fx.client.release(id);
    expect(await refCountOf(id)).toBe(0);
    const other = await fx.client.put({ a: [1, 2] });
    expect(await fx.client.get(other)).toEqual({ a: [1, 2] });
    expect(await refCountOf(other)).toBe(0);
  });

  test("writing into a sealed object's view kills the writer with SIGSEGV; other readers see the data intact", async () => {
    const id = await fx.client.put(Float64Array.of(7, 8));
    const child = Bun.spawn(["bun", join(CLIENTS, "write-into-view.ts"), fx.store.socketPath, id.hex()], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
    ]);
    await child.exited;
    expect(stdout).toContain("read 7");
    expect(stdout).not.toContain("wrote");
    expect(child.signalCode).toBe("SIGSEGV");
    expect(await fx.client.get(id)).toEqual(Float64Array.of(7, 8));
  });
});

group("across processes", () => {
  test("values put by another process come back with their types", async () => {
    const writer = await runClientProcess(join(CLIENTS, "put-values.ts"), [fx.store.socketPath, "c1"]);
    expect(writer.code).toBe(0);
    expect(writer.stdout.trim()).toBe("held 0");
    const id = (n: number) => ObjectID.fromHex(`c1${n.toString(16).padStart(2, "0")}`.padEnd(40, "0"));
    expect(describe(await fx.client.get(id(1)))).toEqual({ kind: "Float64Array", values: [0.5, -1, 1e300] });
    expect(describe(await fx.client.get(id(2)))).toEqual({
      kind: "BigInt64Array",
      values: ["-9223372036854775808n", "9223372036854775807n"],
    });
    expect(describe(await fx.client.get(id(5)))).toEqual({ kind: "Uint16Array", values: [] });
  });

  test("values put here are read by another process", async () => {
    const a = await fx.client.put(Uint32Array.of(1, 2, 3));
    const b = await fx.client.put(new Int8Array(0));
    const c = await fx.client.put(Uint8Array.of(1, 2).buffer);
    const reader = await runClientProcess(join(CLIENTS, "describe-objects.ts"), [
      fx.store.socketPath,
      a.hex(),
      b.hex(),
      c.hex(),
    ]);
    expect(reader.code).toBe(0);
    expect(
      reader.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { kind: "Uint32Array", values: [1, 2, 3] },
      { kind: "Int8Array", values: [] },
      { kind: "ArrayBuffer", bytes: [1, 2] },
    ]);
  });
});

group("metadata", () => {
  test("put with the caller's metadata: get withMeta returns it; getMetadata shows the format line first", async () => {
    const id = await fx.client.put(Float32Array.of(1, 2), { metadata: enc.encode("units=m/s") });
    const got = await fx.client.get(id, { withMeta: true });
    if (typeof got === "symbol") throw new Error("object not available");
    expect(got.value).toEqual(Float32Array.of(1, 2));
    expect(new TextDecoder().decode(got.metadata)).toBe("units=m/s");
    const [meta] = await fx.client.getMetadata([id]);
    expect(new TextDecoder().decode(meta as Uint8Array)).toBe(
      `${VALUE_METADATA_PREFIX}typed-array Float32Array\nunits=m/s`,
    );
  });

  test("objects written with create and their own metadata come back as a copy of their bytes", async () => {
    const id = ObjectID.fromRandom();
    const buffer = await fx.client.create(id, 3, enc.encode("my own metadata"));
    buffer.set([1, 2, 3]);
    await fx.client.seal(id);
    await fx.client.release(id);
    const got = await fx.client.get(id, { withMeta: true });
    if (typeof got === "symbol") throw new Error("object not available");
    expect(got.value).toEqual(Uint8Array.of(1, 2, 3));
    expect(new TextDecoder().decode(got.metadata)).toBe("my own metadata");
    expect(await refCountOf(id)).toBe(0);
  });
});

group("bad input", () => {
  test("unsupported values throw InvalidValueError and store nothing", async () => {
    const before = (await fx.client.list()).length;
    for (const bad of [() => 1, Symbol("s"), { f: () => 2 }]) {
      const error = await fx.client.put(bad).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidValueError);
      expect((error as InvalidValueError).code).toBe("INVALID_VALUE");
    }
    expect((await fx.client.list()).length).toBe(before);
  });

  test("stored bytes that do not match their format give ValueFormatError, and the client keeps working", async () => {
    const raw = async (data: Uint8Array, meta: string) => {
      const id = ObjectID.fromRandom();
      await fx.client.createAndSeal(id, data, enc.encode(meta));
      return id;
    };
    const cases = [
      await raw(new Uint8Array(7), `${VALUE_METADATA_PREFIX}typed-array Float64Array\n`),
      await raw(new Uint8Array(8), `${VALUE_METADATA_PREFIX}typed-array NoSuchArray\n`),
      await raw(new Uint8Array(8), `${VALUE_METADATA_PREFIX}format-from-the-future\n`),
      await raw(Uint8Array.of(255, 1, 2, 3), `${VALUE_METADATA_PREFIX}structured-clone\n`),
    ];
    for (const id of cases) {
      const error = await fx.client.get(id).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValueFormatError);
      expect((error as ValueFormatError).code).toBe("VALUE_FORMAT");
    }
    for (const id of cases) expect(await refCountOf(id)).toBe(0);
    expect(await fx.client.get(await fx.client.put(Int16Array.of(5)))).toEqual(Int16Array.of(5));
  });
});
