import { expect, test } from "bun:test";
import { join } from "node:path";
import { connect, ObjectID } from "../../src/client/index.ts";
import { useStore } from "../helpers/store-fixture.ts";
import { runClientProcess } from "../helpers/store-process.ts";

const fx = useStore({ memory: "256MiB" });

interface Written {
  held: number;
  objects: Record<string, { id: string; bytes: number; xxh64: string }>;
}

test("copyThreads: put, createAndSeal and copyInto split large copies across threads; another process reads every byte", async () => {
  for (const threads of [3, 1]) {
    const run = await runClientProcess(
      join(import.meta.dir, "clients/put-parallel.ts"),
      [fx.store.socketPath, String(threads)],
      // It returns on its own: idle copy workers keep no process alive.
      { timeoutMs: 60_000 },
    );
    expect(run.code).toBe(0);
    const written = JSON.parse(run.stdout.trim().split("\n").at(-1) as string) as Written;
    expect(written.held).toBe(0);
    expect(Object.keys(written.objects).sort()).toEqual(["copyInto", "createAndSeal", "put"]);
    for (const { id, bytes, xxh64 } of Object.values(written.objects)) {
      const objectId = ObjectID.fromHex(id);
      const [data] = await fx.client.getBuffers([objectId], { timeoutMs: 0 });
      expect(data?.length).toBe(bytes);
      expect(Bun.hash.xxHash64(data as Uint8Array).toString(16)).toBe(xxh64);
      await fx.client.release(objectId);
      await fx.client.delete(objectId);
    }
  }
});

test("copyThreads must be an integer from 1 to 64: anything else is a RangeError before connecting", async () => {
  const clients = async () => (await fx.client.storeInfo()).clientCount;
  const before = await clients();
  for (const copyThreads of [0, -1, 1.5, 65, Number.NaN]) {
    await expect(connect(fx.store.socketPath, { copyThreads })).rejects.toThrow(RangeError);
  }
  // No connection was opened (and leaked) for the refused calls.
  expect(await clients()).toBe(before);
  expect(before).toBe(1);
});

test("copyInto refuses a target shorter than the source, and copies small sources on the calling thread", async () => {
  const threaded = await connect(fx.store.socketPath, { copyThreads: 2 });
  try {
    await expect(threaded.copyInto(new Uint8Array(3), new Uint8Array(4))).rejects.toThrow(RangeError);
    const target = new Uint8Array(8);
    await threaded.copyInto(target, Uint8Array.of(1, 2, 3));
    expect([...target]).toEqual([1, 2, 3, 0, 0, 0, 0, 0]);
  } finally {
    await threaded.disconnect();
  }
  // After disconnect the workers are gone; copyInto still copies (on the calling thread).
  const target = new Uint8Array(2);
  await threaded.copyInto(target, Uint8Array.of(7, 8));
  expect([...target]).toEqual([7, 8]);
});
