import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AdminCallError, AdminClient } from "../../src/admin/client.ts";
import { ClusterAdmin, MAX_LOCATE_IDS } from "../../src/admin/cluster-service.ts";
import { type InProcessPlane, MemoryClusterDirectory, startInProcessPlane } from "./cluster-fixture.ts";
import { hexId, runAdminCli } from "./helpers.ts";

// The admin plane's cluster side (ListNodes, LocateObjects, /v1/cluster, cluster metrics, plasma-admin
// nodes / locate), in this process over a StoreCore and an in-memory directory; the end-to-end test
// through real stores and etcd comes with the daemon's wiring.

const GIB = 1024 ** 3;
const A = hexId(0xa1);
const B = hexId(0xb2);
const NOWHERE = hexId(0xc3);

function directory(): MemoryClusterDirectory {
  const d = new MemoryClusterDirectory("prod", "node-a", "10.0.0.11:50052", [
    "http://10.0.0.5:2379",
    "http://10.0.0.6:2379",
  ]);
  d.addNode({
    name: "node-c",
    transferAddress: "10.0.0.13:50052",
    capacityBytes: 4 * GIB,
    usedBytes: GIB,
    startTimeMs: 3000,
  });
  d.addNode({
    name: "node-a",
    transferAddress: "10.0.0.11:50052",
    capacityBytes: 4 * GIB,
    usedBytes: 0,
    startTimeMs: 1000,
  });
  d.addNode({
    name: "node-b",
    transferAddress: "10.0.0.12:50052",
    capacityBytes: 2 * GIB,
    usedBytes: 512,
    startTimeMs: 2000,
  });
  d.hold(A, "node-a");
  d.hold(A, "node-c");
  d.hold(A, "node-b");
  d.hold(B, "node-b");
  return d;
}

async function callError(promise: Promise<unknown>): Promise<AdminCallError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AdminCallError) return error;
    throw error;
  }
  throw new Error("the call succeeded");
}

/** Value of one sample line of a Prometheus text page (`name{labels} value`), or undefined. */
function sample(page: string, series: string): number | undefined {
  for (const line of page.split("\n")) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

describe("with a cluster", () => {
  const dir = directory();
  let p: InProcessPlane;
  let admin: AdminClient;
  beforeAll(async () => {
    p = await startInProcessPlane(dir);
    admin = new AdminClient(p.grpc, { token: p.token });
  });
  afterAll(() => {
    admin.close();
    p.stop();
  });

  test("ListNodes: this node, its cluster and every live node by name", async () => {
    const view = await admin.nodes();
    expect(view.clusterName).toBe("prod");
    expect(view.nodeName).toBe("node-a");
    expect(view.transferAddress).toBe("10.0.0.11:50052");
    expect(view.etcdEndpoints).toEqual(["http://10.0.0.5:2379", "http://10.0.0.6:2379"]);
    expect(view.nodes.map((n) => [n.name, n.self])).toEqual([
      ["node-a", true],
      ["node-b", false],
      ["node-c", false],
    ]);
    expect(view.nodes[2]).toEqual({
      name: "node-c",
      transferAddress: "10.0.0.13:50052",
      capacityBytes: 4 * GIB,
      usedBytes: GIB,
      startTimeMs: 3000,
      self: false,
    });
  });

  test("LocateObjects: holders per id, in order, ids lowercased", async () => {
    const view = await admin.locate([B, A.toUpperCase(), NOWHERE]);
    expect(view.locations).toEqual([
      { id: B, nodes: ["node-b"] },
      { id: A, nodes: ["node-a", "node-b", "node-c"] },
      { id: NOWHERE, nodes: [] },
    ]);
    expect((await admin.locate([])).locations).toEqual([]);
  });

  test("LocateObjects refuses bad ids and too many, without reading the directory", async () => {
    const before = dir.reads;
    const bad = await callError(admin.locate([A, "xyz"]));
    expect(bad.code).toBe("INVALID_ARGUMENT");
    expect(bad.message).toContain('"xyz" is not 40 hex digits');
    expect((await callError(admin.locate([`${A}00`]))).code).toBe("INVALID_ARGUMENT");
    const many = await callError(
      admin.locate(Array.from({ length: MAX_LOCATE_IDS + 1 }, (_, i) => hexId(i))),
    );
    expect(many.code).toBe("INVALID_ARGUMENT");
    expect(many.message).toContain(`at most ${MAX_LOCATE_IDS} ids`);
    expect(dir.reads).toBe(before);
    const all = await admin.locate(Array.from({ length: MAX_LOCATE_IDS }, (_, i) => hexId(i)));
    expect(all.locations).toHaveLength(MAX_LOCATE_IDS);
  });

  test("an unreachable etcd is UNAVAILABLE (gRPC) and 503 (HTTP), naming the endpoints", async () => {
    dir.unreachable = true;
    try {
      const nodes = await callError(admin.nodes());
      expect(nodes.code).toBe("UNAVAILABLE");
      expect(nodes.message).toContain("etcd at http://10.0.0.5:2379, http://10.0.0.6:2379");
      expect((await callError(admin.locate([A]))).code).toBe("UNAVAILABLE");
      const response = await fetch(`http://${p.http}/v1/cluster`, { headers: p.headers() });
      expect(response.status).toBe(503);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("UNAVAILABLE");
    } finally {
      dir.unreachable = false;
    }
  });

  test("GET /v1/cluster: enabled, identity and nodes; token and Host rules as every /v1 endpoint", async () => {
    const response = await fetch(`http://${p.http}/v1/cluster`, { headers: p.headers() });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown> & { nodes: { name: string }[] };
    expect(body.enabled).toBe(true);
    expect(body.clusterName).toBe("prod");
    expect(body.nodeName).toBe("node-a");
    expect(body.etcdEndpoints).toEqual(["http://10.0.0.5:2379", "http://10.0.0.6:2379"]);
    expect(body.nodes.map((n) => n.name)).toEqual(["node-a", "node-b", "node-c"]);
    expect((await fetch(`http://${p.http}/v1/cluster`)).status).toBe(401);
    const wrong = await fetch(`http://${p.http}/v1/cluster`, { headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
    const rebound = await fetch(`http://${p.http}/v1/cluster/locate?ids=${A}`, {
      headers: p.headers({ host: "evil.example" }),
    });
    expect(rebound.status).toBe(421);
    const post = await fetch(`http://${p.http}/v1/cluster`, { method: "POST", headers: p.headers() });
    expect(post.status).toBe(405);
  });

  test("/v1/cluster/locate: GET ?ids=a,b and POST {ids}", async () => {
    const get = await fetch(`http://${p.http}/v1/cluster/locate?ids=${A},${NOWHERE}`, {
      headers: p.headers(),
    });
    expect(get.status).toBe(200);
    expect(await get.json()).toEqual({
      locations: [
        { id: A, nodes: ["node-a", "node-b", "node-c"] },
        { id: NOWHERE, nodes: [] },
      ],
    });
    const post = await fetch(`http://${p.http}/v1/cluster/locate`, {
      method: "POST",
      headers: p.headers({ "content-type": "application/json" }),
      body: JSON.stringify({ ids: [B] }),
    });
    expect(await post.json()).toEqual({ locations: [{ id: B, nodes: ["node-b"] }] });
    const bad = await fetch(`http://${p.http}/v1/cluster/locate?ids=${A},zz`, { headers: p.headers() });
    expect(bad.status).toBe(400);
    const plain = await fetch(`http://${p.http}/v1/cluster/locate`, {
      method: "POST",
      headers: p.headers({ "content-type": "text/plain" }),
      body: JSON.stringify({ ids: [B] }),
    });
    expect(plain.status).toBe(400);
    const shapeless = await fetch(`http://${p.http}/v1/cluster/locate`, {
      method: "POST",
      headers: p.headers({ "content-type": "application/json" }),
      body: JSON.stringify({ ids: B }),
    });
    expect(shapeless.status).toBe(400);
  });

  test("metrics: pulls by outcome, bytes, seconds, failures by reason; directory writes; nodes", async () => {
    dir.emit({ kind: "pull", bytes: 1000, seconds: 0.002, outcome: "ok" });
    dir.emit({ kind: "pull", bytes: 24, seconds: 0.5, outcome: "ok" });
    dir.emit({ kind: "pull", bytes: 300, seconds: 10, outcome: "TRANSFER_STALLED" });
    dir.emit({ kind: "pull", bytes: 0, seconds: 0.001, outcome: "STORE_FULL" });
    dir.emit({ kind: "directory_write", ops: 128, seconds: 0.004, outcome: "ok" });
    dir.emit({ kind: "directory_write", ops: 3, seconds: 3, outcome: "error" });
    const response = await fetch(`http://${p.http}/metrics`, { headers: p.headers() });
    const page = await response.text();
    expect(sample(page, 'plasma_cluster_pulls_total{outcome="ok"}')).toBe(2);
    expect(sample(page, 'plasma_cluster_pulls_total{outcome="failed"}')).toBe(2);
    expect(sample(page, "plasma_cluster_pull_bytes_total")).toBe(1324);
    expect(sample(page, 'plasma_cluster_pull_failures_total{reason="transfer_stalled"}')).toBe(1);
    expect(sample(page, 'plasma_cluster_pull_failures_total{reason="store_full"}')).toBe(1);
    expect(sample(page, 'plasma_cluster_pull_seconds_count{outcome="ok"}')).toBe(2);
    expect(sample(page, 'plasma_cluster_pull_seconds_sum{outcome="ok"}')).toBeCloseTo(0.502, 6);
    expect(sample(page, 'plasma_cluster_pull_seconds_bucket{le="0.005",outcome="ok"}')).toBe(1);
    expect(sample(page, 'plasma_cluster_pull_seconds_count{outcome="failed"}')).toBe(2);
    expect(sample(page, 'plasma_cluster_directory_writes_total{outcome="ok"}')).toBe(1);
    expect(sample(page, 'plasma_cluster_directory_writes_total{outcome="error"}')).toBe(1);
    expect(sample(page, 'plasma_cluster_directory_write_ops_total{outcome="ok"}')).toBe(128);
    expect(sample(page, 'plasma_cluster_directory_write_ops_total{outcome="error"}')).toBe(3);
    expect(sample(page, 'plasma_cluster_directory_write_seconds_count{outcome="error"}')).toBe(1);
    expect(sample(page, "plasma_cluster_nodes")).toBe(3);
    expect(page).toContain("# TYPE plasma_cluster_pull_seconds histogram");
  });

  test("plasma-admin nodes and locate, as a process", async () => {
    const base = ["--addr", p.grpc, "--token", p.token];
    const nodes = await runAdminCli([...base, "nodes"]);
    expect(nodes.stderr).toBe("");
    expect(nodes.code).toBe(0);
    const lines = nodes.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(
      "cluster prod, node node-a (10.0.0.11:50052), etcd http://10.0.0.5:2379,http://10.0.0.6:2379",
    );
    expect(lines[1]).toMatch(/^NODE\s+TRANSFER ADDRESS\s+USED\s+CAPACITY\s+USE\s+STARTED$/);
    expect(lines[2]).toMatch(
      /^node-a \*\s+10\.0\.0\.11:50052\s+0 B\s+4(\.0)? GiB\s+0\.0%\s+1970-01-01T00:00:01\.000Z$/,
    );
    expect(lines[4]).toMatch(/^node-c\s+10\.0\.0\.13:50052\s+1(\.0)? GiB\s+4(\.0)? GiB\s+25\.0%/);
    expect(lines).toHaveLength(5);
    const json = await runAdminCli([...base, "--json", "nodes"]);
    expect(JSON.parse(json.stdout)).toEqual(await admin.nodes());

    const found = await runAdminCli([...base, "locate", A, B]);
    expect(found.code).toBe(0);
    expect(found.stdout.trimEnd().split("\n")).toEqual([
      `ID${" ".repeat(40)}NODES`,
      `${A}  node-a,node-b,node-c`,
      `${B}  node-b`,
    ]);
    const missing = await runAdminCli([...base, "--json", "locate", A, NOWHERE]);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout)).toEqual({
      locations: [
        { id: A, nodes: ["node-a", "node-b", "node-c"] },
        { id: NOWHERE, nodes: [] },
      ],
    });
    const bad = await runAdminCli([...base, "locate", "nothex"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("INVALID_ARGUMENT");
    const none = await runAdminCli([...base, "locate"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("Missing object ids");
  });

  test("stopping the plane stops following the cluster's events", async () => {
    const other = new MemoryClusterDirectory("prod", "node-x", "127.0.0.1:1", ["http://127.0.0.1:2379"]);
    const q = await startInProcessPlane(other);
    expect(other.listenerCount).toBe(1);
    q.stop();
    expect(other.listenerCount).toBe(0);
  });
});

describe("without a cluster", () => {
  let p: InProcessPlane;
  let admin: AdminClient;
  beforeAll(async () => {
    p = await startInProcessPlane(undefined);
    admin = new AdminClient(p.grpc, { token: p.token });
  });
  afterAll(() => {
    admin.close();
    p.stop();
  });

  test("ListNodes and LocateObjects answer FAILED_PRECONDITION, saying how to turn it on", async () => {
    const nodes = await callError(admin.nodes());
    expect(nodes.code).toBe("FAILED_PRECONDITION");
    expect(nodes.message).toContain("start plasma_store with --cluster-etcd");
    expect((await callError(admin.locate([A]))).code).toBe("FAILED_PRECONDITION");
  });

  test("/v1/cluster is { enabled: false }; locate is 409; no cluster metrics", async () => {
    const off = await fetch(`http://${p.http}/v1/cluster`, { headers: p.headers() });
    expect(await off.json()).toEqual({ enabled: false });
    const locate = await fetch(`http://${p.http}/v1/cluster/locate?ids=${A}`, { headers: p.headers() });
    expect(locate.status).toBe(409);
    const page = await (await fetch(`http://${p.http}/metrics`, { headers: p.headers() })).text();
    expect(page).toContain("plasma_capacity_bytes");
    expect(page).not.toContain("plasma_cluster_");
  });

  test("plasma-admin nodes says the cluster is off", async () => {
    const r = await runAdminCli(["--addr", p.grpc, "--token", p.token, "nodes"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("FAILED_PRECONDITION: The cluster is off");
  });
});

describe("ClusterAdmin's node count for plasma_cluster_nodes", () => {
  test("reuses a count younger than its max age; concurrent reads share one directory read", async () => {
    const dir = directory();
    const cached = new ClusterAdmin(dir, 3_600_000);
    expect(await Promise.all([cached.nodeCount(), cached.nodeCount()])).toEqual([3, 3]);
    expect(dir.reads).toBe(1);
    dir.removeNode("node-b");
    expect(await cached.nodeCount()).toBe(3);
    expect(dir.reads).toBe(1);

    const fresh = new ClusterAdmin(dir, 0);
    expect(await Promise.all([fresh.nodeCount(), fresh.nodeCount()])).toEqual([2, 2]);
    expect(dir.reads).toBe(2);
    dir.unreachable = true;
    expect(await fresh.nodeCount()).toBe(2);
    expect(dir.reads).toBe(3);
  });
});
