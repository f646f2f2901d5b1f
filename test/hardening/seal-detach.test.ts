import { expect, test } from "bun:test";
import { connect, ObjectID } from "../../src/client/index.ts";
import { useStore } from "../helpers/store-fixture.ts";
import { waitUntil } from "../helpers/wait.ts";
import { fdCount, storeInvariants } from "./helpers.ts";

/**
 * A creator's buffer from create() is a view of the read-write mapping. Buggy code that keeps writing
 * into it after seal() must not change what readers see: seal() detaches the buffer (and every view of
 * its ArrayBuffer), so index writes are dropped and methods (fill, set, DataView setters) throw.
 */
const fx = useStore({ memory: String(4 * 1024 * 1024) });

test("a creator writing into its buffer after seal is not seen by any reader", async () => {
  const baselineFds = fdCount(fx.store.proc.pid);
  const reader = await connect(fx.store.socketPath);
  const id = ObjectID.fromRandom();
  const buffer = await fx.client.create(id, 4096, new TextEncoder().encode("meta"));
  buffer.fill(0x11);
  const slice = buffer.subarray(100, 200);
  const words = new Uint32Array(buffer.buffer, buffer.byteOffset, 1024);
  const view = new DataView(buffer.buffer, buffer.byteOffset, 4096);
  await fx.client.seal(id);

  // Every way into the creator's bytes is gone: index writes are dropped, methods throw TypeError.
  buffer[0] = 0x77;
  words[3] = 0xdeadbeef;
  slice[1] = 0x55;
  expect(() => buffer.fill(0x99)).toThrow(TypeError);
  expect(() => slice.set([1, 2, 3])).toThrow(TypeError);
  expect(() => view.setUint8(5, 0x66)).toThrow(TypeError);
  expect([buffer.length, slice.length, words.length]).toEqual([0, 0, 0]);
  expect((buffer.buffer as ArrayBuffer).detached).toBe(true);

  for (const client of [reader, fx.client]) {
    const [got] = await client.getBuffers([id], { withMeta: true });
    expect(got?.data.length).toBe(4096);
    expect(got?.data.every((b) => b === 0x11)).toBe(true);
    expect(new TextDecoder().decode(got?.metadata)).toBe("meta");
    await client.release(id);
    expect(got?.data.length).toBe(4096); // keeps the buffer reachable until the release
  }
  expect(await reader.hash(id)).toEqual(await fx.client.hash(id));
  // The creator's own reference (tied to its detached buffer) still counts until released.
  expect((await fx.client.list()).find((o) => o.id.equals(id))?.refCount).toBe(1);
  await fx.client.release(id);
  expect((await fx.client.list()).find((o) => o.id.equals(id))?.refCount).toBe(0);
  expect((buffer.buffer as ArrayBuffer).detached).toBe(true); // reachable until here

  // A create after that at the same place gets a fresh, writable buffer.
  await fx.client.delete([id]);
  const next = ObjectID.fromRandom();
  const again = await fx.client.create(next, 4096);
  expect(again.length).toBe(4096);
  again.fill(0x22);
  await fx.client.seal(next);
  const [fresh] = await reader.getBuffers([next]);
  expect(fresh?.every((b) => b === 0x22)).toBe(true);
  await reader.release(next);
  expect(fresh?.length).toBe(4096);
  await fx.client.release(next);
  expect(await storeInvariants(reader)).toBe("ok");
  await reader.disconnect();
  await waitUntil("the reader's connection is closed", () => fdCount(fx.store.proc.pid) === baselineFds);
  expect(fdCount(fx.store.proc.pid)).toBe(baselineFds);
});
