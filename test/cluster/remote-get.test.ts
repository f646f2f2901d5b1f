import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Table, tableFromArrays } from "apache-arrow";
import { ClusterOffError, connect, ObjectID } from "../../src/client/index.ts";
import { type EtcdInstance, startEtcd } from "../helpers/etcd.ts";
import { startStoreProcess } from "../helpers/store-process.ts";
import { waitUntil } from "../helpers/wait.ts";
import { type ClusterStore, startClusterStore, stopAll } from "./cluster-stores.ts";

let etcd: EtcdInstance;
let a: ClusterStore;
let b: ClusterStore;
let c: ClusterStore;

beforeAll(async () => {
  etcd = await startEtcd();
  [a, b, c] = await Promise.all([
    startClusterStore(etcd, "node-a", { memory: "96MiB" }),
    startClusterStore(etcd, "node-b", { memory: "96MiB" }),
    startClusterStore(etcd, "node-c", { memory: "96MiB" }),
  ]);
});

afterAll(async () => {
  await stopAll([a, b, c]);
  await etcd?.stop();
});

function pattern(sizeBytes: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(sizeBytes);
  for (let i = 0; i < sizeBytes; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

const CHUNK = 1024 * 1024;

describe("remote get", () => {
  test("a put on A reads byte-identical on B, data and metadata, for sizes around the chunk", async () => {
    const sizes = [0, 1, CHUNK, CHUNK - 1, CHUNK + 1, 5 * CHUNK + 123];
    for (const [i, size] of sizes.entries()) {
      const id = ObjectID.fromRandom();
      const data = pattern(size, i);
      const metadata = pattern(i * 7, 99);
      await a.client.createAndSeal(id, data, metadata);
      const [got] = await b.client.getBuffers([id], { timeoutMs: 10_000, withMeta: true });
      expect(got).not.toBeNull();
      expect(Buffer.from(got?.data ?? []).equals(Buffer.from(data))).toBe(true);
      expect(Buffer.from(got?.metadata ?? []).equals(Buffer.from(metadata))).toBe(true);
      await b.client.release(id);
      expect(await b.client.contains(id)).toBe(true); // the pulled copy is an ordinary local object
    }
  });

  test("an id held nowhere answers null at the timeout; timeout 0 answers at once", async () => {
    const id = ObjectID.fromRandom();
    expect(await b.client.getBuffers([id], { timeoutMs: 0 })).toEqual([null]);
    expect(await b.client.getBuffers([id], { timeoutMs: 300 })).toEqual([null]);
  });

  test("C pulls from A or B, and a pulled copy is registered as held there too", async () => {
    const id = ObjectID.fromRandom();
    const data = pattern(3 * CHUNK, 7);
    await a.client.createAndSeal(id, data);
    const [onB] = await b.client.getBuffers([id], { timeoutMs: 10_000 });
    expect(onB?.length).toBe(data.length);
    await b.client.release(id);
    await a.client.delete(id); // only B's copy is left
    const [onC] = await c.client.getBuffers([id], { timeoutMs: 10_000 });
    expect(Buffer.from(onC ?? []).equals(Buffer.from(data))).toBe(true);
    await c.client.release(id);
  });

  test("a blocking get on B resolves when A seals the object", async () => {
    const id = ObjectID.fromRandom();
    const waiting = b.client.getBuffers([id], { timeoutMs: -1 });
    await Bun.sleep(200); // B is watching the directory now (or will range it first: either way it sees the seal)
    const data = pattern(2 * CHUNK + 5, 3);
    await a.client.createAndSeal(id, data);
    const [got] = await waiting;
    expect(Buffer.from(got ?? []).equals(Buffer.from(data))).toBe(true);
    await b.client.release(id);
  });

  test("put values (typed arrays, nested values) cross nodes", async () => {
    const array = new Float64Array([1.5, 2.5, -3.25, 1e300]);
    const id = await a.client.put(array);
    const got = await b.client.get(id, { timeoutMs: 10_000 });
    expect(got).toEqual(array);
    const objectId = await a.client.put({ name: "x", values: [1, 2, 3] });
    expect(await c.client.get(objectId, { timeoutMs: 10_000 })).toEqual({ name: "x", values: [1, 2, 3] });
  });

  test("an Arrow table and getMetadata cross nodes", async () => {
    const table = tableFromArrays({ a: Float64Array.of(0.25, 0.5, 0.75), b: Int32Array.of(-1, 0, 1) });
    const id = await a.client.put(table);
    const got = (await b.client.get(id, { timeoutMs: 10_000 })) as Table;
    expect(got.numRows).toBe(3);
    expect([...(got.getChild("a")?.toArray() ?? [])]).toEqual([0.25, 0.5, 0.75]);
    expect([...(got.getChild("b")?.toArray() ?? [])]).toEqual([-1, 0, 1]);
    const meta = ObjectID.fromRandom();
    await a.client.createAndSeal(meta, pattern(5000, 8), pattern(321, 9));
    const [metadata] = await c.client.getMetadata([meta], { timeoutMs: 10_000 });
    expect(Buffer.from(metadata ?? []).equals(Buffer.from(pattern(321, 9)))).toBe(true);
    expect(await c.client.contains(meta)).toBe(true);
  });

  test("contains, list and delete stay local", async () => {
    const id = ObjectID.fromRandom();
    await a.client.createAndSeal(id, pattern(10, 1));
    expect(await b.client.contains(id)).toBe(false);
    expect((await b.client.list()).some((o) => o.id.equals(id))).toBe(false);
    expect(await b.client.delete(id)).toBe(0);
    expect(await a.client.contains(id)).toBe(true);
  });
});

describe("locate and nodes through the client", () => {
  test("nodes lists the three live stores with their transfer addresses and capacities", async () => {
    const nodes = await b.client.nodes();
    expect(nodes.map((n) => n.name).sort()).toEqual(["node-a", "node-b", "node-c"]);
    const self = nodes.find((n) => n.self);
    expect(self?.name).toBe("node-b");
    expect(nodes.find((n) => n.name === "node-a")?.transferAddress).toBe(a.transferAddress);
    for (const node of nodes) expect(node.capacityBytes).toBe(96 * 1024 * 1024);
  });

  test("locate names the holders of each id, a pulled copy included, [] for one held nowhere", async () => {
    const id = ObjectID.fromRandom();
    const nowhere = ObjectID.fromRandom();
    await a.client.createAndSeal(id, pattern(100, 5));
    await waitUntil(
      "A's registration is in etcd",
      async () => (await c.client.locate([id]))[0]?.length === 1,
    );
    expect(await c.client.locate([id, nowhere])).toEqual([["node-a"], []]);
    await b.client.getBuffers([id], { timeoutMs: 10_000 });
    await b.client.release(id);
    await waitUntil("B's copy is registered", async () => (await c.client.locate([id]))[0]?.length === 2);
    expect((await c.client.locate([id]))[0]).toEqual(["node-a", "node-b"]);
    await a.client.delete(id);
    await waitUntil("A's entry is gone", async () => (await c.client.locate([id]))[0]?.length === 1);
    expect((await c.client.locate([id]))[0]).toEqual(["node-b"]);
  });

  test("a store without --cluster-etcd answers locate and nodes with ClusterOffError", async () => {
    const lone = await startStoreProcess();
    const client = await connect(lone.socketPath);
    try {
      await expect(client.locate([ObjectID.fromRandom()])).rejects.toBeInstanceOf(ClusterOffError);
      await expect(client.nodes()).rejects.toThrow(/without a cluster/);
      expect(await client.getBuffers([ObjectID.fromRandom()], { timeoutMs: 0 })).toEqual([null]);
    } finally {
      await client.disconnect();
      await lone.stop();
    }
  });
});
