/** A node that comes back on another address: a remote get that knew the old one still finds the object. */
import { expect, test } from "bun:test";
import { ObjectID } from "../../src/client/index.ts";
import { waitUntil } from "../helpers/wait.ts";
import { type ClusterStore, useCluster } from "./cluster-stores.ts";

const cluster = useCluster();

async function store(name: string): Promise<ClusterStore> {
  return cluster.store(name, "readdress");
}

function bytesOf(sizeBytes: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(sizeBytes);
  for (let i = 0; i < sizeBytes; i++) bytes[i] = (i * 7 + seed) & 0xff;
  return bytes;
}

async function pulled(on: ClusterStore, id: ObjectID): Promise<Uint8Array | null> {
  const [buffer] = await on.client.getBuffers([id], { timeoutMs: 10_000 });
  const copy = buffer === null || buffer === undefined ? null : Uint8Array.from(buffer);
  if (copy !== null) await on.client.release(id);
  return copy;
}

test("a holder restarted on a new transfer port is pulled from at its new address", async () => {
  const b = await store("b");
  const first = await store("a");
  const before = ObjectID.fromRandom();
  await first.client.createAndSeal(before, bytesOf(4096, 1));
  // B pulls once from A: B now knows A's transfer address.
  expect(await pulled(b, before)).toEqual(bytesOf(4096, 1));
  // A goes away (its lease and entries with it) and comes back under the same name on a new port.
  expect(await first.stop()).toBe(0);
  await waitUntil(
    "A's node entry is gone",
    async () => !(await b.client.nodes()).some((n) => n.name === "a"),
  );
  const second = await store("a");
  expect(second.transferAddress).not.toBe(first.transferAddress);
  const after = ObjectID.fromRandom();
  await second.client.createAndSeal(after, bytesOf(8192, 2));
  await waitUntil(
    "A registered the new object",
    async () => (await b.client.locate([after]))[0]?.includes("a") === true,
  );
  // B's remembered address is stale: the pull fails there once and succeeds at the address read afresh.
  expect(await pulled(b, after)).toEqual(bytesOf(8192, 2));
  // B's copy is registered too (asynchronously, off the get's path).
  await waitUntil("B registered its copy", async () => (await b.client.locate([after]))[0]?.length === 2);
  expect((await b.client.locate([after]))[0]).toEqual(["a", "b"]);
});
