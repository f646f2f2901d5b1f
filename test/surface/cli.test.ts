// The command lines: plasma_store refusing a live socket and a non-loopback admin HTTP address without a
// token; plasma-admin's --token, PLASMA_ADMIN_ADDR, PLASMA_ADMIN_TOKEN, `ls --prefix` and `ls --desc`.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { connect, ObjectID } from "../../src/client/index.ts";
import {
  freePort,
  run,
  runAdmin,
  STORE_CLI,
  type SurfaceStore,
  startStore,
  stopAll,
  tempDir,
} from "./helpers.ts";

describe("plasma_store", () => {
  afterEach(stopAll);

  test("a second store on the socket of a live one exits 1 and names the path; the first keeps serving", async () => {
    const first = await startStore({ admin: "off" });
    const second = await run(
      ["bun", STORE_CLI, "-m", "4MiB", "-s", first.socketPath, "--admin-grpc", "off", "--admin-http", "off"],
      {},
      30_000,
    );
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`Another plasma_store is already listening on ${first.socketPath}`);
    const client = await connect(first.socketPath);
    expect(await client.get(await client.put("still here"))).toBe("still here");
    await client.disconnect();
    expect(await first.stop()).toBe(0);
  });

  test("a non-loopback admin HTTP address needs a token: without one the store exits 2 and says what to pass", async () => {
    const dir = tempDir();
    try {
      const argv = ["bun", STORE_CLI, "-m", "4MiB", "-s", join(dir, "s.sock"), "--admin-grpc", "off"];
      const refused = await run([...argv, "--admin-http", "0.0.0.0:0"], {}, 30_000);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain("--admin-http 0.0.0.0 is not a loopback address");
      expect(refused.stderr).toContain("--admin-token");
      expect(refused.stderr).toContain("--admin-insecure");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const store = await startStore({
      admin: "env",
      args: ["--admin-grpc", "off", "--admin-http", "0.0.0.0:0", "--admin-token", "s3cret"],
    });
    expect(store.http).toMatch(/^0\.0\.0\.0:\d+$/);
    const url = `http://127.0.0.1:${(store.http as string).split(":")[1]}/v1/stats`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: "Bearer s3cret" } })).status).toBe(200);
  });
});

describe("plasma-admin", () => {
  const TOKEN = "s3cret";
  let store: SurfaceStore;
  // Three objects under the prefix 3fa2, two elsewhere, with distinct sizes.
  const sizes: Record<string, number> = {
    [`3fa2${"01".repeat(18)}`]: 100,
    [`3fa2${"02".repeat(18)}`]: 300,
    [`3fa2${"03".repeat(18)}`]: 200,
    [`77c1${"04".repeat(18)}`]: 50,
    [`77c1${"05".repeat(18)}`]: 400,
  };

  beforeAll(async () => {
    store = await startStore({ admin: "grpc", args: ["--admin-token", TOKEN] });
    const client = await connect(store.socketPath);
    for (const [hex, size] of Object.entries(sizes)) {
      await client.createAndSeal(ObjectID.fromHex(hex), new Uint8Array(size));
    }
    await client.disconnect();
  });
  afterAll(stopAll);

  const pidOf = (stdout: string) => (JSON.parse(stdout) as { pid: number }).pid;

  test("--token authenticates; none or a wrong one is UNAUTHENTICATED, exit 1", async () => {
    const addr = store.grpc as string;
    const ok = await runAdmin(["--addr", addr, "--token", TOKEN, "--json", "info"]);
    expect(ok.code).toBe(0);
    expect(pidOf(ok.stdout)).toBe(store.pid);
    for (const args of [[], ["--token", "wrong"]]) {
      const refused = await runAdmin(["--addr", addr, ...args, "--json", "info"]);
      expect({ args, code: refused.code }).toEqual({ args, code: 1 });
      expect(refused.stderr).toContain("plasma-admin: UNAUTHENTICATED");
      expect(refused.stdout).toBe("");
    }
  });

  test("PLASMA_ADMIN_TOKEN is the token when --token is absent; --token wins", async () => {
    const addr = store.grpc as string;
    const fromEnv = await runAdmin(["--addr", addr, "--json", "info"], { PLASMA_ADMIN_TOKEN: TOKEN });
    expect(fromEnv.code).toBe(0);
    expect(pidOf(fromEnv.stdout)).toBe(store.pid);
    const flagRight = await runAdmin(["--addr", addr, "--token", TOKEN, "--json", "info"], {
      PLASMA_ADMIN_TOKEN: "wrong",
    });
    expect(flagRight.code).toBe(0);
    const flagWrong = await runAdmin(["--addr", addr, "--token", "wrong", "--json", "info"], {
      PLASMA_ADMIN_TOKEN: TOKEN,
    });
    expect(flagWrong.code).toBe(1);
    expect(flagWrong.stderr).toContain("UNAUTHENTICATED");
  });

  test("PLASMA_ADMIN_ADDR is the address when --addr is absent; --addr wins", async () => {
    const env = { PLASMA_ADMIN_TOKEN: TOKEN };
    const fromEnv = await runAdmin(["--json", "info"], { ...env, PLASMA_ADMIN_ADDR: store.grpc as string });
    expect(fromEnv.code).toBe(0);
    expect(pidOf(fromEnv.stdout)).toBe(store.pid);
    const nobody = `127.0.0.1:${freePort()}`;
    const dead = await runAdmin(["--json", "info"], { ...env, PLASMA_ADMIN_ADDR: nobody });
    expect(dead.code).toBe(1);
    expect(dead.stderr).toContain(`UNAVAILABLE`);
    expect(dead.stderr).toContain(nobody);
    const flagWins = await runAdmin(["--addr", store.grpc as string, "--json", "info"], {
      ...env,
      PLASMA_ADMIN_ADDR: nobody,
    });
    expect(flagWins.code).toBe(0);
    expect(pidOf(flagWins.stdout)).toBe(store.pid);
  });

  const ls = async (args: string[]) => {
    const result = await runAdmin(["--addr", store.grpc as string, "--token", TOKEN, "ls", ...args]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    return result.stdout;
  };
  const jsonRows = (stdout: string) =>
    (JSON.parse(stdout) as { objects: { id: string; dataSizeBytes: number }[] }).objects.map((o) => [
      o.id,
      o.dataSizeBytes,
    ]);
  /** The ID column of the table (first cell of each row after the header). */
  const tableIds = (stdout: string) =>
    stdout
      .trim()
      .split("\n")
      .slice(1)
      .map((line) => line.split(/\s+/)[0]);
  const byPrefix = (prefix: string) => Object.keys(sizes).filter((id) => id.startsWith(prefix));

  test("ls --prefix lists only the objects whose id starts with it", async () => {
    const listed = jsonRows(await ls(["--prefix", "3fa2", "--order", "size", "--json"]));
    expect(listed).toEqual([
      [`3fa2${"01".repeat(18)}`, 100],
      [`3fa2${"03".repeat(18)}`, 200],
      [`3fa2${"02".repeat(18)}`, 300],
    ]);
    expect(tableIds(await ls(["--prefix", "77c1"])).sort()).toEqual(byPrefix("77c1").sort());
    expect(tableIds(await ls(["--prefix", "3fa202"]))).toEqual(byPrefix("3fa202"));
  });

  test("ls --desc reverses the order", async () => {
    const ascending = jsonRows(await ls(["--order", "size", "--json"])).map(([, size]) => size);
    const descending = jsonRows(await ls(["--order", "size", "--desc", "--json"])).map(([, size]) => size);
    expect(ascending).toEqual([50, 100, 200, 300, 400]);
    expect(descending).toEqual([400, 300, 200, 100, 50]);
    const table = tableIds(await ls(["--order", "size", "--desc"]));
    expect(table).toEqual([
      `77c1${"05".repeat(18)}`,
      `3fa2${"02".repeat(18)}`,
      `3fa2${"03".repeat(18)}`,
      `3fa2${"01".repeat(18)}`,
      `77c1${"04".repeat(18)}`,
    ]);
  });
});
