import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ClusterBadResponseError, ClusterUnavailableError } from "../../src/cluster/errors.ts";
import type { WatchEvent } from "../../src/cluster/etcd/backend.ts";
import { EtcdGatewayClient } from "../../src/cluster/etcd/client.ts";
import { type EtcdInstance, startEtcd } from "../helpers/etcd.ts";
import { waitUntil } from "../helpers/wait.ts";

let etcd: EtcdInstance;
let client: EtcdGatewayClient;

beforeAll(async () => {
  etcd = await startEtcd();
  client = new EtcdGatewayClient({ endpoints: etcd.clientUrl });
});

afterAll(async () => {
  client?.close();
  await etcd?.stop();
});

describe("the etcd gateway client", () => {
  test("put, get by prefix and delete", async () => {
    await client.put("/t/kv/a", "1");
    await client.put("/t/kv/b", "two ✓");
    await client.put("/t/kvx", "outside the prefix");
    const range = await client.get("/t/kv/");
    expect(range.kvs.map((kv) => [kv.key, kv.value])).toEqual([
      ["/t/kv/a", "1"],
      ["/t/kv/b", "two ✓"],
    ]);
    expect(range.revision).toBeGreaterThan(0);
    await client.delete("/t/kv/a");
    expect((await client.get("/t/kv/")).kvs.map((kv) => kv.key)).toEqual(["/t/kv/b"]);
  });

  test("a txn runs its ops only when its keys are absent, and reads them otherwise", async () => {
    const first = await client.txn({
      ifAbsent: ["/t/txn/claim"],
      ops: [
        { type: "put", key: "/t/txn/claim", value: "mine" },
        { type: "put", key: "/t/txn/other", value: "x" },
      ],
      onFailureGet: ["/t/txn/claim"],
    });
    expect(first).toEqual({ succeeded: true, failureKvs: [] });
    const second = await client.txn({
      ifAbsent: ["/t/txn/claim"],
      ops: [{ type: "put", key: "/t/txn/claim", value: "theirs" }],
      onFailureGet: ["/t/txn/claim"],
    });
    expect(second.succeeded).toBe(false);
    expect(second.failureKvs.map((kv) => kv.value)).toEqual(["mine"]);
    await client.txn({ ops: [{ type: "delete", key: "/t/txn/claim" }] });
    expect((await client.get("/t/txn/")).kvs.map((kv) => kv.key)).toEqual(["/t/txn/other"]);
  });

  test("keepAlive keeps a 2 s lease alive for more than 4 s", async () => {
    const lease = await client.grantLease(2);
    expect(lease.ttlS).toBe(2);
    await client.put("/t/lease/kept", "v", lease.id);
    let renewals = 0;
    let lost: Error | undefined;
    const cancel = client.keepAlive(lease.id, lease.ttlS, {
      onLost: (e) => (lost = e),
      onRenewed: () => renewals++,
    });
    await Bun.sleep(4500);
    cancel();
    expect(lost).toBeUndefined();
    expect(renewals).toBeGreaterThanOrEqual(3);
    expect((await client.get("/t/lease/kept")).kvs.map((kv) => kv.lease)).toEqual([lease.id]);
    await client.revokeLease(lease.id);
    expect((await client.get("/t/lease/kept")).kvs).toEqual([]);
  });

  test("a lease whose keeper went away (closed without revoke) expires and takes its keys", async () => {
    const keeper = new EtcdGatewayClient({ endpoints: etcd.clientUrl });
    const lease = await keeper.grantLease(1);
    await keeper.put("/t/expiry/a", "v", lease.id);
    keeper.keepAlive(lease.id, lease.ttlS, { onLost() {} });
    expect((await client.get("/t/expiry/")).kvs).toHaveLength(1);
    keeper.close();
    await waitUntil(
      "the expired lease's key is gone",
      async () => (await client.get("/t/expiry/")).kvs.length === 0,
    );
    let lost: Error | undefined;
    client.keepAlive(lease.id, 3, { onLost: (e) => (lost = e) });
    await waitUntil("keepAlive reports the expired lease lost", () => lost !== undefined);
    expect(lost?.message).toContain("expired");
  });

  test("watch delivers puts and deletes under a prefix, in order, from a revision", async () => {
    const start = await client.get("/t/watch/");
    const events: WatchEvent[] = [];
    let connected = false;
    const cancel = client.watch("/t/watch/", start.revision + 1, {
      onEvent: (event) => events.push(event),
      onConnected: () => (connected = true),
    });
    await client.put("/t/watch/a", "1");
    await client.put("/t/unwatched", "x");
    await client.put("/t/watch/b", "2");
    await client.delete("/t/watch/a");
    await waitUntil("three watch events arrived", () => events.length >= 3);
    cancel();
    expect(connected).toBe(true);
    expect(events.map((e) => [e.type, e.key, e.value])).toEqual([
      ["put", "/t/watch/a", "1"],
      ["put", "/t/watch/b", "2"],
      ["delete", "/t/watch/a", ""],
    ]);
  });

  test("fails over past a dead endpoint, and names every endpoint when none answers", async () => {
    const dead = "http://127.0.0.1:1";
    const failover = new EtcdGatewayClient({ endpoints: `${dead},${etcd.clientUrl}` });
    await failover.put("/t/failover", "ok");
    expect((await failover.get("/t/failover")).kvs.map((kv) => kv.value)).toEqual(["ok"]);
    const none = new EtcdGatewayClient({ endpoints: [dead, "http://127.0.0.1:2"], requestTimeoutMs: 1000 });
    const error = await none.get("/t").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClusterUnavailableError);
    expect((error as ClusterUnavailableError).code).toBe("CLUSTER_UNAVAILABLE");
    expect((error as Error).message).toContain("127.0.0.1:2");
    expect((error as Error).message).toContain("--cluster-etcd");
  });
});

describe("answers are untrusted", () => {
  const answers: Record<string, () => Response> = {
    "/v3/kv/range": () => Response.json({ kvs: [{ key: "not base64!", value: "" }] }),
    "/v3/lease/grant": () => Response.json({ ID: { nested: true }, TTL: "2" }),
    "/v3/kv/put": () => new Response("<html>proxy</html>"),
    "/v3/kv/deleterange": () => new Response("x".repeat(64 * 1024)),
    "/v3/kv/txn": () => Response.json([1, 2]),
  };
  let fake: ReturnType<typeof Bun.serve>;
  let liar: EtcdGatewayClient;
  beforeAll(() => {
    fake = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: (r) => (answers[new URL(r.url).pathname] ?? (() => new Response("", { status: 404 })))(),
    });
    liar = new EtcdGatewayClient({ endpoints: `http://127.0.0.1:${fake.port}`, maxResponseBytes: 16 * 1024 });
  });
  afterAll(() => fake?.stop(true));

  test("a bad key, id, non-JSON, oversized or mis-shaped answer is a ClusterBadResponseError", async () => {
    const calls = [
      () => liar.get("/p"),
      () => liar.grantLease(2),
      () => liar.put("/k", "v"),
      () => liar.delete("/k"),
      () => liar.txn({ ops: [] }),
    ];
    for (const call of calls) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ClusterBadResponseError);
      expect((error as ClusterBadResponseError).code).toBe("CLUSTER_BAD_RESPONSE");
    }
  });

  test("a txn of more than 128 ops is refused before it is sent", async () => {
    const ops = Array.from({ length: 129 }, (_, i) => ({ type: "delete" as const, key: `/k${i}` }));
    await expect(liar.txn({ ops })).rejects.toThrow(RangeError);
  });
});
