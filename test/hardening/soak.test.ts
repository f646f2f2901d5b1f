import { expect, test } from "bun:test";
import { join } from "node:path";
import { connect } from "../../src/client/index.ts";
import { startStoreProcess } from "../helpers/store-process.ts";
import { waitUntil } from "../helpers/wait.ts";
import {
  type ChildProcess,
  fdCount,
  fdLinks,
  LONG_MODE,
  Rng,
  spawnChild,
  storeInvariants,
} from "./helpers.ts";

/**
 * Soak: N client processes run a random mix of operations against one store for a bounded time while a
 * chaos loop SIGKILLs and replaces extra clients. Short mode (CI): 16 clients for about 20 s. Long mode
 * (bun run soak): PLASMA_SOAK_CLIENTS (default 48) for PLASMA_SOAK_SECONDS (default 600).
 */
const CLIENTS = Number(process.env.PLASMA_SOAK_CLIENTS ?? (LONG_MODE ? 48 : 16));
const SECONDS = Number(process.env.PLASMA_SOAK_SECONDS ?? (LONG_MODE ? 600 : 20));
const CHAOS_CLIENTS = Math.max(2, Math.floor(CLIENTS / 8));
const SEED = Number(process.env.PLASMA_SOAK_SEED ?? 6_2026);
const WORKER = join(import.meta.dir, "clients/soak-worker.ts");
const CAPACITY = 64 * 1024 * 1024;
const TOKEN = "soak-admin-token";

// The test runs SECONDS plus about a minute: within bun test --timeout of package.json's test script
// (120 s) by default and of its soak script (3600 s) in long mode.

interface WorkerCounts {
  ops: number;
  creates: number;
  seals: number;
  aborts: number;
  verified: number;
  hashChecks: number;
  mismatches: number;
  storeFull: number;
  unexpectedErrors: number;
  errors: string[];
  [key: string]: number | string[];
}

test(`soak: ${CLIENTS} client processes for ${SECONDS} s with clients killed meanwhile; no mismatches, no unexpected errors, invariants hold`, async () => {
  const store = await startStoreProcess({
    memory: String(CAPACITY),
    args: ["--admin-grpc", "off", "--admin-http", "127.0.0.1:0", "--admin-token", TOKEN],
    env: { PLASMA_LOG_LEVEL: "info" },
  });
  try {
    const httpAddress = /"adminHttp":"([^"]+)"/.exec(store.output())?.[1];
    expect(httpAddress).toBeDefined();
    const admin = async (path: string, token: string | null = TOKEN): Promise<Response> =>
      fetch(`http://${httpAddress}${path}`, {
        // No keep-alive: the store's descriptor count is compared with its baseline at the end.
        headers: { connection: "close", ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
        keepalive: false,
      });
    const observer = await connect(store.socketPath);
    const baselineFds = fdCount(store.proc.pid);
    const rng = new Rng(SEED);

    const workers: ChildProcess[] = Array.from({ length: CLIENTS }, (_, i) =>
      spawnChild(WORKER, [store.socketPath, String(SEED + i), String(SECONDS * 1000)]),
    );
    // Chaos: extra clients doing the same work are SIGKILLed at random moments and replaced.
    let killed = 0;
    let chaosSeed = SEED + 10_000;
    const spawnChaos = () =>
      spawnChild(WORKER, [store.socketPath, String(chaosSeed++), String(SECONDS * 1000)]);
    const chaos = Array.from({ length: CHAOS_CLIENTS }, spawnChaos);
    const chaosDeadline = Date.now() + SECONDS * 1000 - 2000;
    let adminChecks = 0;
    while (Date.now() < chaosDeadline) {
      await Bun.sleep(300 + rng.int(700));
      const victim = rng.int(chaos.length);
      await chaos[victim]?.kill("SIGKILL");
      killed++;
      chaos[victim] = spawnChaos();
      // The admin plane answers under load, and only with the token.
      expect((await admin("/v1/stats", null)).status).toBe(401);
      expect((await admin("/v1/stats")).status).toBe(200);
      adminChecks++;
    }
    for (const c of chaos) await c.kill("SIGKILL");
    killed += chaos.length;

    const totals: Record<string, number> = {};
    const errors: string[] = [];
    for (const w of workers) {
      const code = await w.proc.exited;
      expect({ code, stderr: w.errors() }).toEqual({ code: 0, stderr: "" });
      const counts = JSON.parse(w.output().trim().split("\n").pop() ?? "{}") as WorkerCounts;
      for (const [key, value] of Object.entries(counts)) {
        if (typeof value === "number") totals[key] = (totals[key] ?? 0) + value;
      }
      errors.push(...counts.errors);
    }
    console.log(
      `soak: ${CLIENTS} clients for ${SECONDS} s, ${killed} clients killed, ${adminChecks} admin checks: ${JSON.stringify(totals)}`,
    );
    expect(errors).toEqual([]);
    expect(totals.mismatches).toBe(0);
    expect(totals.unexpectedErrors).toBe(0);
    expect(totals.verified).toBeGreaterThan(CLIENTS * 10);

    // Invariants at the end: the data path (debugString runs StoreCore.checkInvariants), list() and the
    // admin plane agree, and nothing of the departed clients is left.
    await waitUntil(
      "only the observer is connected",
      async () => (await observer.storeInfo()).clientCount === 1,
    );
    expect(await storeInvariants(observer)).toBe("ok");
    const info = await observer.storeInfo();
    const listed = await observer.list();
    expect(listed.every((o) => o.state === "sealed" && o.refCount === 0)).toBe(true);
    const stats = (await (await admin("/v1/stats")).json()) as Record<string, number>;
    expect(stats).toMatchObject({
      connectedClients: 1,
      waitingGets: 0,
      waitingCreates: 0,
      objectsCreated: 0,
      objectsSealed: listed.length,
      usedBytes: info.usedBytes,
      bytesSealed: listed.reduce((sum, o) => sum + o.dataSize + o.metadataSize, 0),
    });
    await waitUntil(
      "the store's descriptors are back to the baseline",
      () => fdCount(store.proc.pid) === baselineFds,
    ).catch((error: Error) => {
      throw new Error(`${error.message}: ${baselineFds} then, now ${fdLinks(store.proc.pid).join(" ")}`);
    });
    for (let i = 0; i < listed.length; i += 1000)
      await observer.delete(listed.slice(i, i + 1000).map((o) => o.id));
    expect(await observer.storeInfo()).toMatchObject({ usedBytes: 0, objectCount: 0 });
    expect(await storeInvariants(observer)).toBe("ok");
    await observer.disconnect();
  } finally {
    expect(await store.stop()).toBe(0);
  }
});
