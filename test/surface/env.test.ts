// Every PLASMA_* variable the README and `plasma_store --help` name, each shown to take effect through
// what the store does: its capacity, socket, arena backing, log, policy, admin plane and poll advice.
import { afterEach, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { AdminClient } from "../../src/admin/client.ts";
import { connect, ObjectID } from "../../src/client/index.ts";
import {
  adminHttp,
  logLines,
  MiB,
  PROBE_CLIENT,
  run,
  STORE_CLI,
  startStore,
  stopAll,
  tempDir,
} from "./helpers.ts";

const dirs: string[] = [];
afterEach(async () => {
  await stopAll();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function scratch(): string {
  const dir = tempDir();
  dirs.push(dir);
  return dir;
}

interface InfoBody {
  pid: number;
  capacityBytes: number;
  arenaBytes: number;
  backing: string;
  backingPath: string;
  prefaulted: boolean;
  faultedBytes: number;
  evictionPolicy: string;
  admin: { tokenRequired: boolean; readOnly: boolean };
}

test("PLASMA_MEMORY and PLASMA_SOCKET set capacity and socket when -m and -s are absent; flags win", async () => {
  const socketPath = join(scratch(), "from-env.sock");
  const store = await startStore({ admin: "off", env: { PLASMA_MEMORY: "8MiB", PLASMA_SOCKET: socketPath } });
  const client = await connect(socketPath);
  expect(client.capacityBytes).toBe(8 * MiB);
  expect((await client.storeInfo()).capacityBytes).toBe(8 * MiB);
  await client.disconnect();
  expect(await store.stop()).toBe(0);

  const flagSocket = join(scratch(), "flag.sock");
  const envSocket = join(scratch(), "unused.sock");
  await startStore({
    admin: "off",
    env: { PLASMA_MEMORY: "8MiB", PLASMA_SOCKET: envSocket },
    args: ["-m", "4MiB", "-s", flagSocket],
  });
  expect(existsSync(envSocket)).toBe(false);
  const second = await connect(flagSocket);
  expect(second.capacityBytes).toBe(4 * MiB);
  await second.disconnect();
});

test("PLASMA_DIRECTORY backs the arena with a file in that directory", async () => {
  const directory = scratch();
  const store = await startStore({ admin: "http", env: { PLASMA_DIRECTORY: directory }, memory: "4MiB" });
  const info = (await adminHttp(store, "/v1/info")).body as InfoBody;
  expect([info.backing, info.backingPath]).toEqual(["file", directory]);
});

test("PLASMA_HUGE_PAGES=1 asks for huge pages: with PLASMA_DIRECTORY off hugetlbfs the store refuses to start", async () => {
  const directory = scratch();
  const env = { PLASMA_HUGE_PAGES: "1", PLASMA_DIRECTORY: directory };
  const args = ["bun", STORE_CLI, "-m", "4MiB", "-s", join(directory, "s.sock"), "--admin-grpc", "off"];
  const result = await run([...args, "--admin-http", "off"], env);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain(`-h was given with -d ${directory}, which is not a hugetlbfs mount`);
});

test("PLASMA_PREFAULT=1 faults the whole arena in before the store starts", async () => {
  const store = await startStore({ admin: "http", env: { PLASMA_PREFAULT: "1" }, memory: "8MiB" });
  const info = (await adminHttp(store, "/v1/info")).body as InfoBody;
  expect(info.prefaulted).toBe(true);
  expect(info.faultedBytes).toBeGreaterThanOrEqual(info.arenaBytes);
  const messages = logLines(store.output()).map((l) => l.msg);
  expect(messages.indexOf("arena prefaulted")).toBeGreaterThanOrEqual(0);
  expect(messages.indexOf("arena prefaulted")).toBeLessThan(messages.indexOf("plasma_store started"));
});

/** A group other than this process's own that the socket can be given to (root may give it any). */
function otherGroup(): { name: string; gid: number } {
  const own = process.getgid?.() ?? 0;
  const mine = new Set(process.getgroups?.() ?? []);
  const root = (process.getuid?.() ?? -1) === 0;
  for (const line of readFileSync("/etc/group", "utf8").split("\n")) {
    const [name, , gidText] = line.split(":");
    const gid = Number(gidText);
    if (name && Number.isInteger(gid) && gid !== own && (root || mine.has(gid))) return { name, gid };
  }
  throw new Error("this test needs root or a supplementary group to give the socket to");
}

test("PLASMA_SOCKET_MODE and PLASMA_SOCKET_GROUP set the socket file's permissions and group", async () => {
  const group = otherGroup();
  const store = await startStore({
    admin: "off",
    env: { PLASMA_SOCKET_MODE: "0660", PLASMA_SOCKET_GROUP: group.name },
  });
  const stat = statSync(store.socketPath);
  expect([stat.mode & 0o777, stat.gid]).toEqual([0o660, group.gid]);
});

test("PLASMA_EVICTION=fifo evicts in creation order, even the object used last", async () => {
  const store = await startStore({ admin: "http", env: { PLASMA_EVICTION: "fifo" } });
  expect(((await adminHttp(store, "/v1/policy")).body as { name: string }).name).toBe("fifo");
  const client = await connect(store.socketPath);
  const [first, second] = [ObjectID.fromRandom(), ObjectID.fromRandom()];
  await client.createAndSeal(first, new Uint8Array(1000));
  await client.createAndSeal(second, new Uint8Array(1000));
  // Using `first` last would make LRU evict `second`; FIFO still evicts `first`.
  await client.getBuffers([first]);
  await client.release(first);
  await client.contains(first);
  expect(await client.evict(1)).toBe(1000);
  expect([await client.contains(first), await client.contains(second)]).toEqual([false, true]);
  await client.disconnect();
});

test("PLASMA_LOG_LEVEL: debug adds debug lines, warn leaves out the info lines", async () => {
  const verbose = await startStore({ admin: "http", env: { PLASMA_LOG_LEVEL: "debug" } });
  const controller = new AbortController();
  const feed = await fetch(`http://${verbose.http}/v1/feed`, {
    signal: controller.signal,
    headers: { authorization: `Bearer ${verbose.token}` },
  });
  await feed.body?.getReader().read();
  controller.abort();
  await verbose.waitForOutput(/"level":20[^\n]*"msg":"admin HTTP feed opened"/);

  const quiet = await startStore({ admin: "off", env: { PLASMA_LOG_LEVEL: "warn" }, readyWhen: "socket" });
  const client = await connect(quiet.socketPath);
  await client.disconnect();
  expect(await quiet.stop()).toBe(0);
  expect(quiet.output()).not.toContain("plasma_store started");
  expect(logLines(quiet.output()).filter((l) => (l.level as number) < 40)).toEqual([]);
});

test("PLASMA_ADMIN_GRPC and PLASMA_ADMIN_HTTP place (or turn off) each admin endpoint", async () => {
  const grpcOnly = await startStore({
    admin: "env",
    env: { PLASMA_ADMIN_GRPC: "127.0.0.1:0", PLASMA_ADMIN_HTTP: "off" },
  });
  expect([grpcOnly.grpc, grpcOnly.http]).toEqual([expect.stringMatching(/^127\.0\.0\.1:\d+$/), null]);
  const admin = new AdminClient(grpcOnly.grpc as string, { token: grpcOnly.token });
  try {
    expect((await admin.info()).pid).toBe(grpcOnly.pid);
  } finally {
    admin.close();
  }

  const httpOnly = await startStore({
    admin: "env",
    env: { PLASMA_ADMIN_GRPC: "off", PLASMA_ADMIN_HTTP: "127.0.0.1:0" },
  });
  expect([httpOnly.grpc, httpOnly.http]).toEqual([null, expect.stringMatching(/^127\.0\.0\.1:\d+$/)]);
  expect(((await adminHttp(httpOnly, "/v1/info")).body as InfoBody).pid).toBe(httpOnly.pid);
});

test("PLASMA_ADMIN_TOKEN makes every /v1 call need the bearer token", async () => {
  const store = await startStore({ admin: "http", env: { PLASMA_ADMIN_TOKEN: "s3cret" } });
  const refused = await adminHttp(store, "/v1/stats");
  expect(refused.status).toBe(401);
  expect((refused.body as { error: { code: string } }).error.code).toBe("UNAUTHENTICATED");
  const allowed = await adminHttp(store, "/v1/info", { headers: { authorization: "Bearer s3cret" } });
  expect(allowed.status).toBe(200);
  expect((allowed.body as InfoBody).admin.tokenRequired).toBe(true);
});

test("PLASMA_ADMIN_METRICS_OPEN=1 opens /metrics; PLASMA_ADMIN_ALLOWED_HOSTS names Host values admin HTTP accepts", async () => {
  const store = await startStore({
    admin: "http",
    env: { PLASMA_ADMIN_METRICS_OPEN: "1", PLASMA_ADMIN_ALLOWED_HOSTS: "plasma.example, admin.example" },
  });
  const metrics = await fetch(`http://${store.http}/metrics`, { headers: { authorization: "" } });
  expect(metrics.status).toBe(200);
  expect((await adminHttp(store, "/v1/stats", { headers: { authorization: "Bearer nope" } })).status).toBe(
    401,
  );
  const port = (store.http as string).split(":")[1];
  // Bun's fetch sends the Host header it is given, as a DNS-rebinding page's browser would.
  const status = async (host: string) =>
    (
      await fetch(`http://${store.http}/v1/stats`, {
        headers: { host, authorization: `Bearer ${store.token}` },
      })
    ).status;
  expect(await status(`admin.example:${port}`)).toBe(200);
  expect(await status("PLASMA.example")).toBe(200);
  expect(await status(`other.example:${port}`)).toBe(421);
});

test("PLASMA_ADMIN_INSECURE=1 lets a non-loopback admin address start without a token", async () => {
  const socketPath = join(scratch(), "s.sock");
  const args = ["bun", STORE_CLI, "-m", "4MiB", "-s", socketPath, "--admin-grpc", "off"];
  const refused = await run([...args, "--admin-http", "0.0.0.0:0"]);
  expect(refused.code).toBe(2);
  const store = await startStore({
    admin: "env",
    args: ["--admin-grpc", "off", "--admin-http", "0.0.0.0:0"],
    env: { PLASMA_ADMIN_INSECURE: "1" },
  });
  expect(store.http).toMatch(/^0\.0\.0\.0:\d+$/);
  const port = (store.http as string).split(":")[1];
  expect((await fetch(`http://127.0.0.1:${port}/v1/stats`)).status).toBe(200);
});

test("PLASMA_ADMIN_READ_ONLY=1 refuses admin changes with 403", async () => {
  const store = await startStore({ admin: "http", env: { PLASMA_ADMIN_READ_ONLY: "1" } });
  const change = await adminHttp(store, "/v1/policy", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: '{"name":"lfu"}',
  });
  expect(change.status).toBe(403);
  expect((change.body as { error: { code: string } }).error.code).toBe("PERMISSION_DENIED");
  const info = (await adminHttp(store, "/v1/info")).body as InfoBody;
  expect([info.admin.readOnly, info.evictionPolicy]).toEqual([true, "lru"]);
});

// The store advises polling (twice its own window) only while it has fewer clients than CPUs.
const advises = availableParallelism() > 1;

test("PLASMA_STORE_POLL_US sets the store's polling window, advised to clients doubled", async () => {
  for (const us of [30, 70]) {
    const store = await startStore({ admin: "off", env: { PLASMA_STORE_POLL_US: String(us) } });
    const client = await connect(store.socketPath);
    expect({ us, advised: client.pollWindowUs }).toEqual({ us, advised: advises ? 2 * us : 0 });
    await client.disconnect();
    expect(await store.stop()).toBe(0);
  }
});

test("PLASMA_CLIENT_POLL_US caps the window a client process accepts", async () => {
  const store = await startStore({ admin: "off", env: { PLASMA_STORE_POLL_US: "50" } });
  const probe = async (env: Record<string, string>) => {
    const result = await run(["bun", PROBE_CLIENT, store.socketPath, "plain"], env);
    expect(result.code).toBe(0);
    return (JSON.parse(result.stdout) as { pollWindowUs: number }).pollWindowUs;
  };
  expect(await probe({})).toBe(advises ? 100 : 0);
  expect(await probe({ PLASMA_CLIENT_POLL_US: "25" })).toBe(advises ? 25 : 0);
  expect(await probe({ PLASMA_CLIENT_POLL_US: "0" })).toBe(0);
});
