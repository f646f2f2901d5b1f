import { describe, expect, test } from "bun:test";
import { connect, ObjectID, StoreFullError } from "../../src/client/index.ts";
import { runAdminCli } from "../admin/helpers.ts";
import { STORE_CLI } from "../helpers/daemon.ts";
import { runCommand, startLine } from "../helpers/run.ts";
import { tempDir } from "../helpers/store-process.ts";
import { waitUntil } from "../helpers/wait.ts";
import { type ClusterStore, useCluster } from "./cluster-stores.ts";

const cluster = useCluster();

async function store(
  name: string,
  clusterName: string,
  args: string[] = [],
  memory?: string,
): Promise<ClusterStore> {
  return cluster.store(name, clusterName, { args, ...(memory === undefined ? {} : { memory }) });
}

function bytesOf(sizeBytes: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(sizeBytes);
  for (let i = 0; i < sizeBytes; i++) bytes[i] = (i * 13 + seed) & 0xff;
  return bytes;
}

/** Waits until `store` sees `id` registered by `holders` nodes. */
async function registered(on: ClusterStore, id: ObjectID, holders: number): Promise<void> {
  await waitUntil(
    `${holders} holders of ${id.hex()}`,
    async () => (await on.client.locate([id]))[0]?.length === holders,
  );
}

describe("cluster failures", () => {
  test("a second live store with the same node name refuses to start, saying so", async () => {
    await store("dup", "names");
    const dir = tempDir();
    const result = await runCommand([
      "bun",
      STORE_CLI,
      ...["-m", "16MiB", "-s", `${dir}/plasma.sock`, "--admin-grpc", "off", "--admin-http", "off"],
      ...["--cluster-etcd", cluster.etcd.clientUrl, "--cluster-name", "names", "--node-name", "dup"],
      ...["--cluster-listen", "127.0.0.1:0"],
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/node name "dup" is already held by a live store in cluster "names"/);
  });

  test("the start-up line carries cluster name, node name, the real transfer port and etcd", async () => {
    const s = await store("line", "lines");
    const line = startLine(s.process.output());
    expect(line.clusterName).toBe("lines");
    expect(line.nodeName).toBe("line");
    expect(line.transferAddress).toMatch(/^127\.0\.0\.1:[1-9][0-9]*$/);
    expect(line.etcdEndpoints).toEqual([cluster.etcd.clientUrl]);
  });

  test("a wrong or missing token gets nothing; the right one pulls", async () => {
    const a = await store("tok-a", "tokens", ["--cluster-token", "sesame"]);
    const right = await store("tok-b", "tokens", ["--cluster-token", "sesame"]);
    const wrong = await store("tok-c", "tokens", ["--cluster-token", "guess"]);
    const none = await store("tok-d", "tokens");
    const id = ObjectID.fromRandom();
    const data = bytesOf(4096, 1);
    await a.client.createAndSeal(id, data);
    await registered(none, id, 1);
    expect(await wrong.client.getBuffers([id], { timeoutMs: 0 })).toEqual([null]);
    expect(await none.client.getBuffers([id], { timeoutMs: 0 })).toEqual([null]);
    const refused = /"err":"[^"\n]*token[^"\n]*","msg":"pull from a holder failed/;
    expect(wrong.process.output()).toMatch(refused);
    expect(none.process.output()).toMatch(refused);
    expect((await wrong.client.storeInfo()).objectCount).toBe(0);
    const [got] = await right.client.getBuffers([id], { timeoutMs: 0 });
    expect(Buffer.from(got ?? []).equals(Buffer.from(data))).toBe(true);
  });

  test("a pull that cannot fit fails the get with StoreFullError and leaves nothing allocated", async () => {
    const a = await store("full-a", "full");
    const b = await store("full-b", "full", [], "16MiB");
    // B holds 10 MiB of its own (a reference held: not evictable), so 8 MiB more cannot fit.
    const mine = ObjectID.fromRandom();
    await b.client.createAndSeal(mine, bytesOf(10 * 1024 * 1024, 2));
    const [held] = await b.client.getBuffers([mine]);
    const big = ObjectID.fromRandom();
    await a.client.createAndSeal(big, bytesOf(8 * 1024 * 1024, 3));
    await registered(b, big, 1);
    await expect(b.client.getBuffers([big], { timeoutMs: 5000 })).rejects.toBeInstanceOf(StoreFullError);
    const info = await b.client.storeInfo();
    expect(info.objectCount).toBe(1);
    expect(info.usedBytes).toBeLessThan(11 * 1024 * 1024);
    expect(held?.length).toBe(10 * 1024 * 1024);
    expect(await b.client.contains(big)).toBe(false);
    await b.client.release(mine);
    // Once there is room (B's own object is evictable now) the same get succeeds.
    const [got] = await b.client.getBuffers([big], { timeoutMs: 5000 });
    expect(got?.length).toBe(8 * 1024 * 1024);
  });

  test("concurrent gets of one remote id share one pull (the admin plane's pull counter)", async () => {
    const a = await store("share-a", "share");
    const b = await store("share-b", "share", ["--admin-http", "127.0.0.1:0", "--admin-insecure"]);
    const http = startLine(b.process.output()).adminHttp as string;
    const pulls = async (): Promise<number> => {
      const text = await (await fetch(`http://${http}/metrics`)).text();
      let total = 0;
      for (const m of text.matchAll(/^plasma_cluster_pulls_total(?:\{[^}]*\})? (\d+)/gm))
        total += Number(m[1]);
      return total;
    };
    const id = ObjectID.fromRandom();
    const data = bytesOf(6 * 1024 * 1024 + 7, 4);
    await a.client.createAndSeal(id, data);
    await registered(b, id, 1);
    const before = await pulls();
    const clients = await Promise.all(Array.from({ length: 5 }, () => connect(b.process.socketPath)));
    try {
      const results = await Promise.all(clients.map((c) => c.getBuffers([id], { timeoutMs: 10_000 })));
      for (const [got] of results) expect(Buffer.from(got ?? []).equals(Buffer.from(data))).toBe(true);
      expect((await pulls()) - before).toBe(1);
      // The admin plane's cluster view answers too.
      const cluster = (await (await fetch(`http://${http}/v1/cluster`)).json()) as {
        nodes?: { name: string }[];
      };
      expect(cluster.nodes?.map((n) => n.name).sort()).toEqual(["share-a", "share-b"]);
    } finally {
      await Promise.all(clients.map((c) => c.disconnect()));
    }
  });

  test("plasma-admin nodes and locate against real stores", async () => {
    const a = await store("adm-a", "adm");
    const b = await store("adm-b", "adm", ["--admin-grpc", "127.0.0.1:0", "--admin-token", "t0ken"]);
    const grpc = startLine(b.process.output()).adminGrpc as string;
    const id = ObjectID.fromRandom();
    await a.client.createAndSeal(id, bytesOf(10, 9));
    await registered(b, id, 1);
    const base = ["--addr", grpc, "--token", "t0ken"];
    const nodes = await runAdminCli([...base, "--json", "nodes"]);
    expect(nodes.code).toBe(0);
    const listed = JSON.parse(nodes.stdout) as { nodeName: string; nodes: { name: string; self: boolean }[] };
    expect(listed.nodes.map((n) => [n.name, n.self])).toEqual([
      ["adm-a", false],
      ["adm-b", true],
    ]);
    const found = await runAdminCli([...base, "locate", id.hex()]);
    expect(found.code).toBe(0);
    expect(found.stdout).toContain(`${id.hex()}  adm-a`);
    const nowhere = await runAdminCli([...base, "locate", ObjectID.fromRandom().hex()]);
    expect(nowhere.code).toBe(1);
  });
});
