import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { NodeNameTakenError } from "../../src/cluster/errors.ts";
import { type EtcdInstance, startEtcd } from "../helpers/etcd.ts";
import { waitUntil } from "../helpers/wait.ts";
import { idHex, startMember, stopMember, type TestMember } from "./cluster-fixture.ts";

let etcd: EtcdInstance;
let a: TestMember;
let b: TestMember;
const sizes = { dataSizeBytes: 100, metadataSizeBytes: 3 };

beforeAll(async () => {
  etcd = await startEtcd();
  a = await startMember(etcd.clientUrl, "node-a");
  b = await startMember(etcd.clientUrl, "node-b");
});

afterAll(async () => {
  for (const member of [a, b]) if (member) await stopMember(member);
  await etcd?.stop();
});

describe("cluster membership", () => {
  test("300 registrations in one tick go to etcd as transactions of 128, 128 and 44 ops", async () => {
    const ids = Array.from({ length: 300 }, (_, i) => idHex(1000 + i));
    const before = a.txnOps.length;
    for (const id of ids) a.membership.register(id, sizes);
    await a.membership.flushed();
    expect(a.txnOps.slice(before)).toEqual([128, 128, 44]);
    const located = await b.membership.locate(ids);
    expect(ids.every((id) => located.get(id)?.join() === "node-a")).toBe(true);
    const range = await b.backend.get(a.membership.layout.objectPrefix(ids[0] as string));
    expect(JSON.parse(range.kvs[0]?.value ?? "null")).toEqual(sizes);
    expect(range.kvs[0]?.lease).toBe(a.membership.leaseId as string);
  });

  test("an id held by two nodes is located on both; unregister removes one", async () => {
    const id = idHex(1);
    a.membership.register(id, sizes);
    b.membership.register(id, sizes);
    await Promise.all([a.membership.flushed(), b.membership.flushed()]);
    expect((await a.membership.locate([id])).get(id)?.sort()).toEqual(["node-a", "node-b"]);
    b.membership.unregister(id);
    await b.membership.flushed();
    expect((await a.membership.locate([id])).get(id)).toEqual(["node-a"]);
  });

  test("nodes() lists the live nodes with their transfer address", async () => {
    const nodes = await a.membership.nodes();
    expect(nodes.map((n) => [n.nodeName, n.transferAddress])).toEqual([
      ["node-a", "127.0.0.1:5006"],
      ["node-b", "127.0.0.1:5006"],
    ]);
  });

  test("waitForObject resolves through the watch when another node registers the id", async () => {
    const id = idHex(2);
    const waiting = b.membership.waitForObject(id, 60_000);
    let settled = false;
    void waiting.then(() => (settled = true));
    await Bun.sleep(300);
    expect(settled).toBe(false);
    a.membership.register(id, sizes);
    expect(await waiting).toEqual(["node-a"]);
    expect(await b.membership.waitForObject(id, 60_000)).toEqual(["node-a"]); // already there: at once
    expect(await b.membership.waitForObject(idHex(3), 100)).toEqual([]); // sealed nowhere: [] at the timeout
  });

  test("a live node's name is refused; it is free again once that node's lease expires", async () => {
    const first = await startMember(etcd.clientUrl, "twin", { leaseTtlS: 1 });
    const id = idHex(4);
    first.membership.register(id, sizes);
    await first.membership.flushed();
    const refused = await startMember(etcd.clientUrl, "twin").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(NodeNameTakenError);
    expect((refused as NodeNameTakenError).code).toBe("NODE_NAME_TAKEN");
    expect((refused as Error).message).toContain("--node-name");
    expect((refused as Error).message).toContain("127.0.0.1:5004");
    await stopMember(first, false); // as if the process died: no revoke, the lease runs out
    await waitUntil(
      "the dead node's object entry expired",
      async () => (await a.membership.locate([id])).get(id)?.length === 0,
    );
    const second = await startMember(etcd.clientUrl, "twin");
    expect((await a.membership.nodes()).map((n) => n.nodeName)).toContain("twin");
    await stopMember(second);
    expect((await a.membership.nodes()).map((n) => n.nodeName)).not.toContain("twin");
  });

  test("node names are per cluster", async () => {
    const other = await startMember(etcd.clientUrl, "node-a", { clusterName: "other" });
    expect((await other.membership.nodes()).map((n) => n.nodeName)).toEqual(["node-a"]);
    await stopMember(other);
  });
});
