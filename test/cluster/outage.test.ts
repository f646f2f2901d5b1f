import { afterAll, beforeAll, expect, test } from "bun:test";
import { ClusterUnavailableError } from "../../src/cluster/errors.ts";
import { type EtcdInstance, startEtcd } from "../helpers/etcd.ts";
import { waitUntil } from "../helpers/wait.ts";
import { idHex, startMember, stopMember, type TestMember, WARN } from "./cluster-fixture.ts";

let etcd: EtcdInstance;
let a: TestMember;
const sizes = { dataSizeBytes: 1, metadataSizeBytes: 0 };

beforeAll(async () => {
  etcd = await startEtcd();
  a = await startMember(etcd.clientUrl, "node-a", { leaseTtlS: 2 });
});

afterAll(async () => {
  if (a) await stopMember(a);
  await etcd?.stop();
});

test("etcd SIGKILLed then restarted: unavailable meanwhile, one warning, registrations back under a new lease", async () => {
  const held = [idHex(1), idHex(2)];
  for (const id of held) a.membership.register(id, sizes);
  await a.membership.flushed();
  const oldLease = a.membership.leaseId;
  const waiting = a.membership.waitForObject(idHex(9), 60_000); // a watch that must survive the outage

  await etcd.kill("SIGKILL");
  for (let i = 0; i < 3; i++) {
    const error = await a.membership.locate(held).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClusterUnavailableError);
    expect((error as ClusterUnavailableError).code).toBe("CLUSTER_UNAVAILABLE");
  }
  a.membership.register(idHex(3), sizes); // local bookkeeping goes on, queued for later
  a.membership.unregister(idHex(2));
  await waitUntil("the membership gives its lease up", () =>
    a.logs.some((l) => l.msg.startsWith("cluster lease lost")),
  );

  await etcd.restart();
  await waitUntil(
    "a new lease is granted",
    () => a.membership.leaseId !== null && a.membership.leaseId !== oldLease,
  );
  await a.membership.flushed();
  const located = await a.membership.locate([idHex(1), idHex(2), idHex(3)]);
  expect([...located.values()]).toEqual([["node-a"], [], ["node-a"]]);
  const entry = await a.backend.get(a.membership.layout.objectKey(idHex(1), "node-a"));
  expect(entry.kvs[0]?.lease).toBe(a.membership.leaseId as string);
  expect((await a.membership.nodes()).map((n) => n.nodeName)).toEqual(["node-a"]);

  const other = await startMember(etcd.clientUrl, "node-c");
  other.membership.register(idHex(9), sizes);
  expect(await waiting).toEqual(["node-c"]);
  await stopMember(other);

  const warnings = a.logs.filter((l) => l.level === WARN && l.msg.includes("unreachable"));
  expect(warnings).toHaveLength(1);
  expect(a.logs.some((l) => l.msg === "cluster directory (etcd) reachable again")).toBe(true);
});
