import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { AdminClient } from "../../src/admin/client.ts";
import { adminTokenPathOf } from "../../src/admin/token-file.ts";
import { ObjectID } from "../../src/client/index.ts";
import { startStoreProcess } from "../helpers/store-process.ts";
import { type AdminStore, adminAddresses, runAdminCli, startAdminStore } from "./helpers.ts";

/**
 * The default admin plane (no --admin-token, no --admin-insecure): the store makes up a token, writes it
 * next to its socket for whoever may open the socket, and every endpoint but /healthz and /readyz needs it.
 */

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "OK";
  } catch (error) {
    return (error as { code: string }).code;
  }
}

async function readAll(chunks: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of chunks) {
    // drain
  }
}

describe("the token the store generates", () => {
  let s: AdminStore;
  let tokenPath: string;
  const id = ObjectID.fromRandom();
  beforeAll(async () => {
    s = await startAdminStore({ memory: "4MiB" });
    tokenPath = adminTokenPathOf(s.store.socketPath);
    const { connect } = await import("../../src/client/index.ts");
    const client = await connect(s.store.socketPath);
    await client.createAndSeal(id, new TextEncoder().encode("secret data"));
    await client.disconnect();
  });
  afterAll(async () => {
    await s?.stop();
  });

  test("is in SOCKET.admin-token, mode 0600, owned by the store's user, named in the log but never logged", async () => {
    const st = statSync(tokenPath);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(process.getuid?.() ?? -1);
    const token = readFileSync(tokenPath, "utf8").trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s.token).toBe(token);
    expect(s.store.output()).toContain(`"adminTokenFile":"${tokenPath}"`);
    expect(s.store.output()).not.toContain(token);
    expect((await s.admin.info()).admin.tokenRequired).toBe(true);
  });

  test("gRPC: every PlasmaAdmin call without it is UNAUTHENTICATED, with a hint naming the file", async () => {
    const none = new AdminClient(s.grpc);
    try {
      const hex = id.hex();
      const calls: [string, Promise<unknown>][] = [
        ["info", none.info()],
        ["stats", none.stats()],
        ["listObjects", none.listObjects()],
        ["getObject", none.getObject(hex)],
        ["readObject", readAll(none.readObject(hex))],
        ["deleteObjects", none.deleteObjects([hex])],
        ["evict", none.evict(1024)],
        ["policy", none.policy()],
        ["setPolicy", none.setPolicy("fifo")],
        ["clients", none.clients()],
        ["watch", none.watch().ready],
      ];
      for (const [name, call] of calls) expect([name, await codeOf(call)]).toEqual([name, "UNAUTHENTICATED"]);
      const message = await none.stats().catch((error: Error) => error.message);
      expect(message).toContain(tokenPath);
    } finally {
      none.close();
    }
    // Nothing was deleted, evicted or changed.
    expect((await s.admin.getObject(id.hex())).state).toBe("OBJECT_STATE_SEALED");
    expect((await s.admin.policy()).name).toBe("lru");
  });

  test("HTTP: every endpoint but /healthz and /readyz is 401 without it, and answers with it", async () => {
    const url = (path: string) => `http://${s.http}${path}`;
    const hex = id.hex();
    const json = { "content-type": "application/json" };
    const requests: [string, RequestInit][] = [
      ["/metrics", {}],
      ["/v1/info", {}],
      ["/v1/stats", {}],
      ["/v1/objects", {}],
      [`/v1/objects/${hex}`, {}],
      [`/v1/objects/${hex}/data`, {}],
      ["/v1/clients", {}],
      ["/v1/policy", {}],
      ["/v1/feed", {}],
      ["/v1/policy", { method: "PUT", headers: json, body: '{"name":"fifo"}' }],
      ["/v1/evict", { method: "POST", headers: json, body: '{"bytes":1024}' }],
      [`/v1/objects/${hex}`, { method: "DELETE" }],
    ];
    for (const [path, init] of requests) {
      const response = await fetch(url(path), init);
      await response.body?.cancel();
      expect([init.method ?? "GET", path, response.status]).toEqual([init.method ?? "GET", path, 401]);
    }
    for (const path of ["/healthz", "/readyz"]) expect((await fetch(url(path))).status).toBe(200);
    expect((await s.admin.getObject(hex)).state).toBe("OBJECT_STATE_SEALED");
    expect((await s.admin.policy()).name).toBe("lru");

    const data = await fetch(url(`/v1/objects/${hex}/data`), { headers: s.headers() });
    expect(await data.text()).toBe("secret data");
    expect((await fetch(url("/metrics"), { headers: s.headers() })).status).toBe(200);
    const deleted = await fetch(url(`/v1/objects/${hex}`), { method: "DELETE", headers: s.headers() });
    expect(deleted.status).toBe(200);
  });

  test("plasma-admin finds it by itself: next to --socket or PLASMA_SOCKET, or in --token-file", async () => {
    const viaSocket = await runAdminCli(["--addr", s.grpc, "--socket", s.store.socketPath, "policy"]);
    expect(viaSocket.code).toBe(0);
    expect(viaSocket.stdout).toContain("lru");
    const viaEnv = await runAdminCli(["--addr", s.grpc, "--json", "stats"], {
      env: { PLASMA_SOCKET: s.store.socketPath },
    });
    expect(viaEnv.code).toBe(0);
    const viaFile = await runAdminCli(["--addr", s.grpc, "--token-file", tokenPath, "--json", "stats"]);
    expect(viaFile.code).toBe(0);
    expect(JSON.parse(viaFile.stdout)).toMatchObject({ capacityBytes: 4 * 1024 * 1024 });
    const viaFileEnv = await runAdminCli(["--addr", s.grpc, "clients"], {
      env: { PLASMA_ADMIN_TOKEN_FILE: tokenPath },
    });
    expect(viaFileEnv.code).toBe(0);
  });

  test("plasma-admin without a way to the token is refused, and says where the token is", async () => {
    const lost = await runAdminCli(["--addr", s.grpc, "--socket", `${s.store.dir}/elsewhere.sock`, "stats"]);
    expect(lost.code).toBe(1);
    expect(lost.stderr).toContain("UNAUTHENTICATED");
    expect(lost.stderr).toContain(tokenPath);
    const wrong = await runAdminCli(["--addr", s.grpc, "--token", "nope", "stats"]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("token is wrong");
    const unreadable = await runAdminCli(["--addr", s.grpc, "--token-file", `${s.store.dir}/none`, "stats"]);
    expect(unreadable.code).toBe(2);
    expect(unreadable.stderr).toContain("--token-file");
  });

  test("plasma-admin dashboard prints the page's address with the token in its fragment", async () => {
    const printed = await runAdminCli(["--addr", s.grpc, "--socket", s.store.socketPath, "dashboard"]);
    expect(printed.code).toBe(0);
    expect(printed.stdout.trim()).toBe(`http://${s.http}/#token=${s.token}`);
  });

  test("the file is removed when the store stops", async () => {
    const other = await startAdminStore({ memory: "4MiB" });
    const path = adminTokenPathOf(other.store.socketPath);
    expect(existsSync(path)).toBe(true);
    await other.stop();
    expect(existsSync(path)).toBe(false);
  });
});

test("--admin-token: that token, and no token file", async () => {
  const s = await startAdminStore({
    memory: "4MiB",
    args: ["--admin-token", "given-token"],
    token: "given-token",
  });
  try {
    expect(existsSync(adminTokenPathOf(s.store.socketPath))).toBe(false);
    expect(s.store.output()).toContain('"adminTokenFile":null');
    expect(await codeOf(s.admin.stats())).toBe("OK");
    const none = new AdminClient(s.grpc);
    expect(await codeOf(none.stats())).toBe("UNAUTHENTICATED");
    none.close();
  } finally {
    await s.stop();
  }
});

test("--admin-insecure: no token at all, no token file, everything answers without one", async () => {
  const s = await startAdminStore({ memory: "4MiB", args: ["--admin-insecure"] });
  try {
    expect(s.token).toBeUndefined();
    expect(existsSync(adminTokenPathOf(s.store.socketPath))).toBe(false);
    expect((await s.admin.info()).admin.tokenRequired).toBe(false);
    expect((await fetch(`http://${s.http}/v1/stats`)).status).toBe(200);
    expect((await fetch(`http://${s.http}/metrics`)).status).toBe(200);
  } finally {
    await s.stop();
  }
});

test("an admin plane that is off writes no token file", async () => {
  const store = await startStoreProcess({ memory: "4MiB" });
  try {
    expect(adminAddresses(store.output())).toEqual({ grpc: null, http: null });
    expect(existsSync(adminTokenPathOf(store.socketPath))).toBe(false);
  } finally {
    await store.stop();
  }
});

test("--admin-metrics-open: /metrics answers without the token, /v1 still needs it", async () => {
  const s = await startAdminStore({ memory: "4MiB", args: ["--admin-metrics-open"] });
  try {
    const metrics = await fetch(`http://${s.http}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain("plasma_capacity_bytes 4194304");
    expect((await fetch(`http://${s.http}/v1/stats`)).status).toBe(401);
    expect((await fetch(`http://${s.http}/v1/stats`, { headers: s.headers() })).status).toBe(200);
  } finally {
    await s.stop();
  }
});
