import { afterAll, beforeAll, expect, test } from "bun:test";
import { ObjectID } from "../../src/client/index.ts";
import { type EtcdInstance, startEtcd } from "../helpers/etcd.ts";
import { type ClusterStore, startClusterStore, stopAll } from "./cluster-stores.ts";

/**
 * The "many chunks, 1 GiB" case: 1024 chunks of 1 MiB, every path of a multi-chunk pull (windows,
 * ACK credit, the last short chunk) many times over. The receiver is prefaulted, as the benchmark's is.
 * About 20 s here (2 shared cores), most of it the test's own 1 GiB put, copy and comparisons.
 */

const MIB = 1024 * 1024;
let etcd: EtcdInstance;
let a: ClusterStore;
let b: ClusterStore;

beforeAll(async () => {
  etcd = await startEtcd();
  [a, b] = await Promise.all([
    startClusterStore(etcd, "big-a", { memory: "1100MiB" }),
    startClusterStore(etcd, "big-b", { memory: "1100MiB", args: ["--prefault"] }),
  ]);
});

afterAll(async () => {
  await stopAll([a, b]);
  await etcd?.stop();
});

test("a 1 GiB + 5 bytes object with metadata reads byte-identical on another node", async () => {
  const size = 1024 * MIB + 5;
  const data = new Uint8Array(size);
  const words = new Uint32Array(data.buffer, 0, Math.floor(size / 4));
  for (let i = 0; i < words.length; i++) words[i] = Math.imul(i, 2654435761) >>> 0;
  data[size - 1] = 0xab;
  const metadata = new TextEncoder().encode("big object metadata");
  const id = ObjectID.fromRandom();
  await a.client.createAndSeal(id, data, metadata);
  const [got] = await b.client.getBuffers([id], { timeoutMs: 60_000, withMeta: true });
  expect(got?.data.length).toBe(size);
  expect(Buffer.from(got?.data ?? []).equals(Buffer.from(data))).toBe(true);
  expect(Buffer.from(got?.metadata ?? []).toString()).toBe("big object metadata");
  expect(Buffer.from(await b.client.hash(id)).equals(Buffer.from(await a.client.hash(id)))).toBe(true);
  await b.client.release(id);
});
