import { expect, test } from "bun:test";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { connect, ObjectID, PlasmaConnectionError } from "../../src/client/index.ts";
import { startAdminStore } from "../helpers/admin-store.ts";
import { startStoreProcess, tempDir } from "../helpers/store-process.ts";
import { waitUntil } from "../helpers/wait.ts";
import { spawnChild } from "./helpers.ts";

const BUSY = join(import.meta.dir, "clients/busy.ts");

test("SIGTERM under load: clients get PlasmaConnectionError, the socket file goes, exit 0; a restarted store is reached by connect retries", async () => {
  const dir = tempDir("plasma-shutdown-");
  const socketPath = join(dir, "plasma.sock");
  try {
    // the admin plane counts the waiting get and create
    const { store, admin } = await startAdminStore({ memory: String(16 * 1024 * 1024), socketPath });
    const busy = [0, 1, 2, 3].map(() => spawnChild(BUSY, [socketPath]));
    await Promise.all(busy.map((b) => b.waitForLine(/busy/)));
    const client = await connect(socketPath);
    const held = ObjectID.fromRandom();
    await client.createAndSeal(held, new Uint8Array(16).fill(9));
    const [buffer] = await client.getBuffers([held]);
    const pendingGet = client.getBuffers([ObjectID.fromRandom()]).catch((e: unknown) => e);
    await client.create(ObjectID.fromRandom(), 15 * 1024 * 1024);
    const pendingCreate = client
      .create(ObjectID.fromRandom(), 2 * 1024 * 1024, undefined, { waitMs: -1 })
      .catch((e: unknown) => e);
    await waitUntil("a get and a create wait", async () => {
      const stats = await admin.stats();
      return stats.waitingGets === 1 && stats.waitingCreates === 1;
    });
    admin.close();

    expect(await store.stop("SIGTERM")).toBe(0);
    expect(store.output()).toContain("plasma_store stopped");
    expect(existsSync(socketPath)).toBe(false);

    expect(await pendingGet).toBeInstanceOf(PlasmaConnectionError);
    expect(await pendingCreate).toBeInstanceOf(PlasmaConnectionError);
    const later = await client.contains(held).catch((e: unknown) => e);
    expect(later).toBeInstanceOf(PlasmaConnectionError);
    expect((later as Error).message).toContain(socketPath);
    // a buffer handed out before the shutdown stays readable (the client keeps its mapping)
    expect(buffer?.every((b) => b === 9)).toBe(true);
    for (const b of busy) {
      await b.proc.exited;
      expect(b.proc.exitCode).toBe(0);
      const report = JSON.parse(b.output().trim().split("\n").pop() ?? "{}") as Record<string, unknown>;
      expect(report).toMatchObject({ error: "PlasmaConnectionError", later: "PlasmaConnectionError" });
    }
    await client.disconnect();

    // A client that starts before the store comes back reaches it through its retries.
    const retrying = connect(socketPath, { retries: 600, retryDelayMs: 100 });
    const restarted = await startStoreProcess({ memory: String(16 * 1024 * 1024), socketPath });
    const again = await retrying;
    expect(await again.contains(held)).toBe(false);
    await again.createAndSeal(held, new Uint8Array(4));
    expect(await again.contains(held)).toBe(true);
    await again.disconnect();
    expect(await restarted.stop()).toBe(0);
    // without retries, a store that is gone is a PlasmaConnectionError at once
    expect(await connect(socketPath).catch((e: unknown) => e)).toBeInstanceOf(PlasmaConnectionError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
