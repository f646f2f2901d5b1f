import { describe, expect, test } from "bun:test";
import { ObjectID } from "../../src/client/index.ts";
import { waitUntil } from "../helpers/wait.ts";
import { type ClusterStore, useCluster } from "./cluster-stores.ts";

const cluster = useCluster();

async function store(
  name: string,
  clusterName: string,
  leaseTtlS = 10,
  memory = "128MiB",
): Promise<ClusterStore> {
  return cluster.store(name, clusterName, { leaseTtlS, memory });
}

function bytesOf(sizeBytes: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(sizeBytes);
  for (let i = 0; i < sizeBytes; i += 4096) bytes[i] = (i / 4096 + seed) & 0xff;
  return bytes;
}

async function registered(on: ClusterStore, id: ObjectID, holders: number): Promise<void> {
  await waitUntil(
    `${holders} holders of ${id.hex()}`,
    async () => (await on.client.locate([id]))[0]?.length === holders,
  );
}

const MIB = 1024 * 1024;

describe("holders that die or stall", () => {
  test("A SIGKILLed mid-pull: the get on B answers at its timeout (or has every byte), nothing partial", async () => {
    const a = await store("kill-a", "kill");
    const b = await store("kill-b", "kill");
    const id = ObjectID.fromRandom();
    const data = bytesOf(96 * MIB, 1);
    await a.client.createAndSeal(id, data);
    await registered(b, id, 1);
    const getting = b.client.getBuffers([id], { timeoutMs: 3000 });
    // B has created the unsealed local object once the pull's header arrived: kill A then.
    await waitUntil("B's pull began", async () => (await b.client.storeInfo()).usedBytes > 0, 30_000);
    process.kill(a.pid, "SIGKILL");
    const [got] = await getting;
    if (got !== null && got !== undefined) {
      expect(Buffer.from(got).equals(Buffer.from(data))).toBe(true); // the pull won the race: all of it
      await b.client.release(id);
    } else {
      const info = await b.client.storeInfo();
      expect(info.objectCount).toBe(0);
      expect(info.usedBytes).toBe(0);
      expect(await b.client.contains(id)).toBe(false);
    }
  });

  test("A SIGSTOPped: B's pull stalls and is abandoned for another holder", async () => {
    const a = await store("stop-a", "stop");
    const b = await store("stop-b", "stop");
    const c = await store("stop-c", "stop");
    const id = ObjectID.fromRandom();
    const data = bytesOf(2 * MIB + 3, 2);
    await a.client.createAndSeal(id, data);
    const [onC] = await c.client.getBuffers([id], { timeoutMs: 10_000 });
    expect(onC?.length).toBe(data.length);
    await c.client.release(id);
    await registered(b, id, 2); // stop-a sorts first: B tries it first
    process.kill(a.pid, "SIGSTOP");
    try {
      const [got] = await b.client.getBuffers([id], { timeoutMs: 0 });
      expect(Buffer.from(got ?? []).equals(Buffer.from(data))).toBe(true);
      expect(b.process.output()).toMatch(/"holder":"stop-a"[^\n]*"msg":"pull from a holder failed/);
    } finally {
      process.kill(a.pid, "SIGCONT");
    }
  });

  test("lease expiry removes a killed store's entries and its node", async () => {
    const a = await store("lease-a", "lease", 2);
    const b = await store("lease-b", "lease", 2);
    const id = ObjectID.fromRandom();
    await a.client.createAndSeal(id, bytesOf(100, 3));
    await registered(b, id, 1);
    process.kill(a.pid, "SIGKILL");
    await registered(b, id, 0);
    expect((await b.client.nodes()).map((n) => n.name)).toEqual(["lease-b"]);
    expect(await b.client.getBuffers([id], { timeoutMs: 0 })).toEqual([null]);
  });
});

describe("etcd away", () => {
  test("local operations go on, remote gets answer at their timeout, one warning, then re-registration", async () => {
    const a = await store("etcd-a", "outage", 2);
    const b = await store("etcd-b", "outage", 2);
    const before = ObjectID.fromRandom();
    await a.client.createAndSeal(before, bytesOf(1000, 4));
    await registered(b, before, 1);
    await cluster.etcd.kill("SIGKILL");
    const during = ObjectID.fromRandom();
    await a.client.createAndSeal(during, bytesOf(2000, 5));
    const [local] = await a.client.getBuffers([during], { timeoutMs: 0 });
    expect(local?.length).toBe(2000);
    await a.client.release(during);
    expect(await b.client.getBuffers([ObjectID.fromRandom()], { timeoutMs: 300 })).toEqual([null]);
    expect(await b.client.getBuffers([ObjectID.fromRandom()], { timeoutMs: 300 })).toEqual([null]);
    await expect(b.client.locate([before])).rejects.toMatchObject({ code: "CLUSTER_UNAVAILABLE" });
    await waitUntil("A notices its lease is lost", () => /cluster lease lost/.test(a.process.output()));
    await cluster.etcd.restart();
    await registered(b, before, 1);
    await registered(b, during, 1);
    const [remote] = await b.client.getBuffers([during], { timeoutMs: 5000 });
    expect(remote?.length).toBe(2000);
    for (const s of [a, b]) {
      expect(s.process.output().match(/cluster directory \(etcd\) unreachable/g)?.length).toBe(1);
    }
  });
});
