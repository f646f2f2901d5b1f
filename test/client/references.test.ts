import { heapStats } from "bun:jsc";
import { expect, test } from "bun:test";
import {
  connect,
  ObjectID,
  ObjectNotFoundError,
  PlasmaConnectionError,
  Tensor,
} from "../../src/client/index.ts";
import { PROTOCOL_VERSION } from "../../src/protocol/limits.ts";
import { useAdminStore } from "../helpers/store-fixture.ts";
import { waitUntil } from "../helpers/wait.ts";

// The admin plane counts the store's get hits.
const fx = useAdminStore({ memory: "16MiB" });

async function refCount(id: ObjectID): Promise<number | undefined> {
  return (await fx.client.list()).find((o) => o.id.equals(id))?.refCount;
}

/** Five full collections, letting finalizers run in between. */
async function collectAFewTimes(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    Bun.gc(true);
    await Bun.sleep(10);
  }
}

async function collectUntil(condition: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    Bun.gc(true);
    await Bun.sleep(10);
    if (await condition()) return true;
  }
  return false;
}

test("a garbage-collected buffer releases its reference", async () => {
  const id = ObjectID.fromRandom();
  await fx.client.createAndSeal(id, new Uint8Array(100).fill(1));
  await (async () => {
    const [view] = await fx.client.getBuffers([id]);
    expect(view?.[0]).toBe(1);
  })();
  expect(await refCount(id)).toBe(1);
  expect(await collectUntil(async () => (await refCount(id)) === 0)).toBe(true);
  expect(fx.client.heldObjectCount).toBe(0);
});

test("many buffers of one object cost one store reference; release ends one at a time", async () => {
  const id = ObjectID.fromRandom();
  await fx.client.createAndSeal(id, new Uint8Array(10));
  const views = [];
  for (let i = 0; i < 5; i++) views.push(...(await fx.client.getBuffers([id])));
  expect(await refCount(id)).toBe(1);
  for (let i = 0; i < 4; i++) await fx.client.release(id);
  expect(await refCount(id)).toBe(1);
  await fx.client.release(id);
  expect(await refCount(id)).toBe(0);
  expect(views.length).toBe(5);
});

test("a view derived from a buffer keeps the object referenced", async () => {
  const id = ObjectID.fromRandom();
  await fx.client.createAndSeal(id, new Uint8Array(64).fill(3));
  const derived = await (async () => {
    const [view] = await fx.client.getBuffers([id]);
    return new Uint32Array((view as Uint8Array).buffer, 0, 4);
  })();
  await collectAFewTimes();
  expect(await refCount(id)).toBe(1);
  expect(derived[0]).toBe(0x03030303);
});

test("the creator's buffer becomes a reference at seal; collecting it before seal changes nothing", async () => {
  const kept = ObjectID.fromRandom();
  const buffer = await fx.client.create(kept, 8);
  buffer.fill(5);
  await fx.client.seal(kept);
  expect(await refCount(kept)).toBe(1);
  await fx.client.release(kept);
  expect(await refCount(kept)).toBe(0);
  expect((buffer.buffer as ArrayBuffer).detached).toBe(true); // seal() detached the creator's buffer

  const dropped = ObjectID.fromRandom();
  await (async () => {
    (await fx.client.create(dropped, 8)).fill(6);
  })();
  await collectAFewTimes();
  expect((await fx.client.list()).find((o) => o.id.equals(dropped))?.state).toBe("created");
  await fx.client.seal(dropped);
  expect(await collectUntil(async () => (await refCount(dropped)) === 0)).toBe(true);
  const [view] = await fx.client.getBuffers([dropped]);
  expect([...(view as Uint8Array)]).toEqual(new Array(8).fill(6));
  await fx.client.release(dropped);
});

test("release() after the collector took the buffer succeeds once per reference, then is an error", async () => {
  const id = ObjectID.fromRandom();
  await fx.client.createAndSeal(id, new Uint8Array(16).fill(2));
  await (async () => {
    for (let i = 0; i < 2; i++) expect((await fx.client.getBuffers([id]))[0]?.[0]).toBe(2);
  })();
  expect(await collectUntil(async () => (await refCount(id)) === 0)).toBe(true);
  await fx.client.release(id);
  await fx.client.release(id);
  await expect(fx.client.release(id)).rejects.toThrow(ObjectNotFoundError);

  // Plasma's create → write → seal → release with the buffer dropped before seal.
  const created = ObjectID.fromRandom();
  await (async () => {
    (await fx.client.create(created, 8)).fill(4);
  })();
  await collectAFewTimes();
  await fx.client.seal(created);
  await fx.client.release(created);
  expect(await collectUntil(async () => (await refCount(created)) === 0)).toBe(true);
  await expect(fx.client.release(created)).rejects.toThrow(ObjectNotFoundError);

  // A live buffer next to a collected one: the first release accounts for the collected one.
  const mixed = ObjectID.fromRandom();
  await fx.client.createAndSeal(mixed, new Uint8Array(4).fill(9));
  await (async () => {
    await fx.client.getBuffers([mixed]);
  })();
  expect(await collectUntil(async () => (await refCount(mixed)) === 0)).toBe(true);
  const [live] = await fx.client.getBuffers([mixed]);
  await fx.client.release(mixed);
  expect(await refCount(mixed)).toBe(1);
  await fx.client.release(mixed);
  expect(await collectUntil(async () => (await refCount(mixed)) === 0)).toBe(true);
  expect(live?.[0]).toBe(9);
});

test("put() and large createAndSeal() hold nothing after, even when the collector runs during them", async () => {
  // put() always creates, writes and seals a Tensor (no inline path); createAndSeal() does above 16 KiB.
  const tensor = new Tensor(new Float64Array(16).fill(0.5), [4, 4]);
  const data = new Uint8Array(20_000).fill(7);
  const ids: ObjectID[] = [];
  // Collections while each create's reply and seal's reply are in flight.
  let collecting = true;
  const collector = (async () => {
    while (collecting) {
      Bun.gc(false);
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  for (let i = 0; i < 400; i++) {
    let id = ObjectID.fromRandom();
    if (i % 2 === 0) await fx.client.createAndSeal(id, data);
    else id = await fx.client.put(tensor);
    ids.push(id);
    await fx.client.delete(id);
  }
  collecting = false;
  await collector;
  expect(fx.client.heldObjectCount).toBe(0);
  expect((await fx.client.list()).filter((o) => ids.some((id) => id.equals(o.id)))).toEqual([]);
});

test("getting and releasing one object again and again while a buffer of it is kept does not grow the heap", async () => {
  const id = ObjectID.fromRandom();
  await fx.client.createAndSeal(id, new Uint8Array(256).fill(4));
  const [kept] = await fx.client.getBuffers([id]);
  const heap = () => {
    Bun.gc(true);
    return heapStats().heapSize;
  };
  const cycle = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const [again] = await fx.client.getBuffers([id]);
      // The client hands out the same ArrayBuffer while one is reachable: its references share it.
      expect(again?.buffer).toBe(kept?.buffer);
      await fx.client.release(id);
    }
  };
  await cycle(20_000);
  const before = heap();
  await cycle(200_000);
  // Each released reference is dropped, not left registered on the shared buffer (that was ~100 B each).
  expect(heap() - before).toBeLessThan(4 * 1024 * 1024);
  expect(kept?.[0]).toBe(4);
  await fx.client.release(id);
  expect(await refCount(id)).toBe(0);
});

test("a malformed frame closes only that connection; the store and other clients carry on", async () => {
  const before = fx.store.output().length;
  let closed = false;
  const raw = await Bun.connect({
    unix: fx.store.socketPath,
    socket: {
      data() {},
      close() {
        closed = true;
      },
    },
  });
  // A header announcing a 4 GiB body.
  raw.write(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 1, 0, 0, 0]));
  await waitUntil("the store closes the connection", () => closed);
  expect(closed).toBe(true);
  expect(fx.store.output().slice(before)).toContain("protocol violation");
  expect(await fx.client.get(await fx.client.put("fine"))).toBe("fine");
});

test("a request before Hello and a protocol version mismatch are refused with a clear error", async () => {
  const replies: Uint8Array[] = [];
  const talk = async (frame: Uint8Array) => {
    let closed = false;
    const raw = await Bun.connect({
      unix: fx.store.socketPath,
      socket: {
        data(_s, d) {
          replies.push(new Uint8Array(d));
        },
        close() {
          closed = true;
        },
      },
    });
    raw.write(frame);
    await waitUntil("the store closes the connection", () => closed);
    return closed;
  };
  const hello = new Uint8Array(18);
  const view = new DataView(hello.buffer);
  view.setUint32(0, 6, true);
  view.setUint16(4, 1, true);
  view.setUint32(8, 1, true);
  view.setUint16(12, PROTOCOL_VERSION + 1, true);
  expect(await talk(hello)).toBe(true);
  expect(fx.store.output()).toContain(`the client speaks version ${PROTOCOL_VERSION + 1}`);
  const contains = new Uint8Array(32);
  new DataView(contains.buffer).setUint32(0, 20, true);
  new DataView(contains.buffer).setUint16(4, 9, true);
  expect(await talk(contains)).toBe(true);
  expect(fx.store.output()).toContain("The first frame must be Hello");
  expect(Buffer.concat(replies).toString("latin1")).toContain("Protocol version mismatch");
});

test("calls after disconnect fail with PlasmaConnectionError", async () => {
  const other = await connect(fx.store.socketPath);
  await other.disconnect();
  await expect(other.contains(ObjectID.fromRandom())).rejects.toBeInstanceOf(PlasmaConnectionError);
});

test("a get of an object this client just released is served without asking the store", async () => {
  const id = ObjectID.fromRandom();
  await fx.client.createAndSeal(id, new Uint8Array(16).fill(4));
  const hits = async () => (await fx.admin.stats()).counters.getHits;
  // Get requests the store served (its Get latency histogram counts one per request).
  const storeGets = async () => {
    const text = await (await fetch(`http://${fx.http}/metrics`, { headers: fx.headers() })).text();
    return Number(/^plasma_get_duration_seconds_count (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
  };
  const before = await hits();
  const getsBefore = await storeGets();
  for (let i = 0; i < 10; i++) {
    const [view] = await fx.client.getBuffers([id]);
    expect(view?.[0]).toBe(4);
    await fx.client.release(id);
  }
  // No Get request: the first get pinned the object through the shared directory, the other nine revived
  // the holding whose release had not gone out yet. Each of the ten is a use the store counts as a hit.
  expect((await storeGets()) - getsBefore).toBe(0);
  expect((await hits()) - before).toBe(10);
  expect(await refCount(id)).toBe(0);
  // Another client sees the release once the event loop has turned, without this client doing anything.
  const other = await connect(fx.store.socketPath);
  const [again] = await fx.client.getBuffers([id]);
  expect(again?.[0]).toBe(4);
  await fx.client.release(id);
  await new Promise((resolve) => setImmediate(resolve));
  const seenByOther = async () => (await other.list()).find((o) => o.id.equals(id))?.refCount;
  await waitUntil("the other client sees the release", async () => (await seenByOther()) === 0);
  expect(await seenByOther()).toBe(0);
  await other.disconnect();
});
