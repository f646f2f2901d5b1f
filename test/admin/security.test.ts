import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { AdminClient } from "../../src/admin/client.ts";
import { STORE_CLI } from "../helpers/daemon.ts";
import { testEnv } from "../helpers/run.ts";
import { startStoreProcess, tempDir } from "../helpers/store-process.ts";
import { type AdminStore, adminAddresses, startAdminStore } from "./helpers.ts";

const TOKEN = "s3cret-token";

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "OK";
  } catch (error) {
    return (error as { code: string }).code;
  }
}

describe("admin token", () => {
  let s: AdminStore;
  beforeAll(async () => {
    s = await startAdminStore({ memory: "4MiB", args: ["--admin-token", TOKEN], token: TOKEN });
  });
  afterAll(async () => {
    await s?.stop();
  });

  test("gRPC calls need the bearer token: missing or wrong is UNAUTHENTICATED, logged with the peer", async () => {
    const none = new AdminClient(s.grpc);
    const wrong = new AdminClient(s.grpc, { token: "nope" });
    try {
      expect(await codeOf(none.stats())).toBe("UNAUTHENTICATED");
      expect(await codeOf(wrong.stats())).toBe("UNAUTHENTICATED");
      expect(await codeOf(wrong.deleteObjects(["0".repeat(40)]))).toBe("UNAUTHENTICATED");
      const events = wrong.watch();
      expect(await codeOf(events.ready)).toBe("UNAUTHENTICATED");
      expect((await s.admin.info()).admin.tokenRequired).toBe(true);
      expect(await codeOf(s.admin.stats())).toBe("OK");
    } finally {
      none.close();
      wrong.close();
    }
    await s.store.waitForOutput(/"peer":"127\.0\.0\.1:\d+"[^\n]*admin call refused: unauthenticated/);
    expect(s.store.output()).not.toContain(TOKEN);
  });

  test("HTTP /v1 and /metrics need the token (401 otherwise); /healthz and /readyz stay open", async () => {
    const url = (path: string) => `http://${s.http}${path}`;
    expect((await fetch(url("/v1/stats"))).status).toBe(401);
    expect((await fetch(url("/v1/stats"), { headers: { authorization: "Bearer nope" } })).status).toBe(401);
    const ok = await fetch(url("/v1/stats"), { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { capacityBytes: number }).capacityBytes).toBe(4 * 1024 * 1024);
    for (const open of ["/healthz", "/readyz"]) expect((await fetch(url(open))).status).toBe(200);
    expect((await fetch(url("/metrics"))).status).toBe(401);
    expect((await fetch(url("/metrics"), { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(
      200,
    );
    await s.store.waitForOutput(/"peer":"127\.0\.0\.1:\d+"[^\n]*admin HTTP request refused: unauthenticated/);
  });

  test("destructive calls are logged with who asked", async () => {
    await s.admin.setPolicy("lfu");
    await s.admin.evict(1);
    await s.admin.deleteObjects(["ab".repeat(20)]);
    await s.store.waitForOutput(/"peer":"[^"]+","method":"SetEvictionPolicy","from":"lru","to":"lfu"/);
    await s.store.waitForOutput(/"peer":"[^"]+","method":"Evict","bytes":1/);
    await s.store.waitForOutput(/"peer":"[^"]+","method":"DeleteObjects"[^\n]*"notFound":\["abab/);
  });
});

test("--admin-read-only refuses delete, evict and policy changes with PERMISSION_DENIED", async () => {
  const s = await startAdminStore({ memory: "4MiB", args: ["--admin-read-only"] });
  try {
    expect(await codeOf(s.admin.deleteObjects(["0".repeat(40)]))).toBe("PERMISSION_DENIED");
    expect(await codeOf(s.admin.evict(10))).toBe("PERMISSION_DENIED");
    expect(await codeOf(s.admin.setPolicy("fifo"))).toBe("PERMISSION_DENIED");
    expect(await codeOf(s.admin.stats())).toBe("OK");
    expect((await s.admin.policy()).name).toBe("lru");
  } finally {
    await s.stop();
  }
});

test("a non-loopback admin address needs --admin-token or --admin-insecure", async () => {
  const dir = tempDir();
  try {
    const proc = Bun.spawn(
      [
        "bun",
        STORE_CLI,
        "-m",
        "4MiB",
        "-s",
        join(dir, "s.sock"),
        "--admin-grpc",
        "0.0.0.0:0",
        "--admin-http",
        "off",
      ],
      { stdout: "pipe", stderr: "pipe", env: testEnv() },
    );
    const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    expect(code).toBe(2);
    expect(stderr).toContain("--admin-token");
    expect(stderr).toContain("--admin-insecure");
  } finally {
    const { rmSync } = await import("node:fs");
    rmSync(dir, { recursive: true, force: true });
  }
  const insecure = await startStoreProcess({
    memory: "4MiB",
    args: ["--admin-grpc", "0.0.0.0:0", "--admin-http", "off", "--admin-insecure"],
  });
  try {
    const { grpc, http } = adminAddresses(insecure.output());
    expect(grpc).toMatch(/^0\.0\.0\.0:\d+$/);
    expect(http).toBeNull();
    const admin = new AdminClient(`127.0.0.1:${grpc?.split(":")[1]}`);
    expect((await admin.info()).admin.http).toBe("");
    admin.close();
  } finally {
    await insecure.stop();
  }
});

test("PLASMA_ADMIN_GRPC=off and PLASMA_ADMIN_HTTP=off disable the admin plane", async () => {
  const store = await startStoreProcess({
    memory: "4MiB",
    env: { PLASMA_ADMIN_GRPC: "off", PLASMA_ADMIN_HTTP: "off" },
  });
  try {
    expect(adminAddresses(store.output())).toEqual({ grpc: null, http: null });
  } finally {
    await store.stop();
  }
});
