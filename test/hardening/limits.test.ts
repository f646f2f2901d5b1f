import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import {
  connect,
  LimitExceededError,
  ObjectID,
  type PlasmaClient,
  StoreFullError,
} from "../../src/client/index.ts";
import { startAdminStore } from "../helpers/admin-store.ts";
import { STORE_CLI } from "../helpers/daemon.ts";
import { useAdminStore } from "../helpers/store-fixture.ts";
import { runClientProcess, startStoreProcess, tempDir } from "../helpers/store-process.ts";
import { waitUntil } from "../helpers/wait.ts";
import { storeInvariants } from "./helpers.ts";

const KiB = 1024;
const MiB = 1024 * 1024;

describe("limits from the command line, each a typed error for that client only", () => {
  // The fixture's client is "a"; "b" is a second client of the same store. The admin plane counts waiting gets.
  const fx = useAdminStore({
    memory: String(16 * MiB),
    args: [
      "--max-object-size",
      "1MiB",
      "--max-metadata-size",
      "1KiB",
      "--max-ids-per-request",
      "10",
      "--max-pending-gets",
      "3",
    ],
  });
  let b: PlasmaClient;

  beforeAll(async () => {
    b = await connect(fx.store.socketPath);
  });

  afterAll(async () => {
    await b.disconnect();
  });

  test("--max-object-size: one byte over is LimitExceededError; exactly the limit fits", async () => {
    const over = await fx.client.create(ObjectID.fromRandom(), MiB + 1).catch((e: unknown) => e);
    expect(over).toBeInstanceOf(LimitExceededError);
    expect((over as LimitExceededError).code).toBe("LIMIT_EXCEEDED");
    expect((over as Error).message).toContain("--max-object-size");
    // data + metadata count together
    const overWithMeta = await fx.client
      .create(ObjectID.fromRandom(), MiB - 10, new Uint8Array(11))
      .catch((e: unknown) => e);
    expect(overWithMeta).toBeInstanceOf(LimitExceededError);
    const inline = await fx.client
      .createAndSeal(ObjectID.fromRandom(), new Uint8Array(MiB + 1))
      .catch((e: unknown) => e);
    expect(inline).toBeInstanceOf(LimitExceededError);
    const id = ObjectID.fromRandom();
    const buffer = await fx.client.create(id, MiB - 10, new Uint8Array(10));
    buffer.fill(7);
    await fx.client.seal(id);
    await fx.client.release(id);
    expect((buffer.buffer as ArrayBuffer).detached).toBe(true); // seal() detached the creator's buffer, kept reachable until the release
    // the other client and this one still work
    expect(await b.contains(id)).toBe(true);
    expect(await fx.client.delete(id)).toBe(1);
  });

  test("--max-metadata-size: 1 KiB + 1 is LimitExceededError, 1 KiB fits, the connection stays up", async () => {
    for (const call of [
      () => fx.client.create(ObjectID.fromRandom(), 10, new Uint8Array(KiB + 1)),
      () => fx.client.createAndSeal(ObjectID.fromRandom(), new Uint8Array(10), new Uint8Array(KiB + 1)),
    ]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LimitExceededError);
      expect((error as Error).message).toContain("--max-metadata-size");
    }
    const id = ObjectID.fromRandom();
    await fx.client.createAndSeal(id, new Uint8Array(3), new Uint8Array(KiB).fill(9));
    const [meta] = await b.getMetadata([id]);
    expect(meta?.length).toBe(KiB);
    await fx.client.delete(id);
  });

  test("--max-ids-per-request: 11 ids in a get, getMetadata or delete is LimitExceededError; 10 work", async () => {
    const eleven = Array.from({ length: 11 }, () => ObjectID.fromRandom());
    for (const call of [
      () => fx.client.getBuffers(eleven, { timeoutMs: 0 }),
      () => fx.client.getMetadata(eleven, { timeoutMs: 0 }),
      () => fx.client.delete(eleven),
    ]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LimitExceededError);
      expect((error as Error).message).toContain("--max-ids-per-request");
    }
    const ten = eleven.slice(0, 10);
    expect(await fx.client.getBuffers(ten, { timeoutMs: 0 })).toEqual(new Array(10).fill(null));
    expect(await fx.client.delete(ten)).toBe(0);
    expect(await b.getBuffers(ten, { timeoutMs: 0 })).toEqual(new Array(10).fill(null));
  });

  test("--max-pending-gets: the 4th blocked get of a client fails; other clients are not limited by it", async () => {
    const ids = [0, 1, 2, 3, 4, 5].map(() => ObjectID.fromRandom());
    const blocked = ids.slice(0, 3).map((id) => fx.client.getBuffers([id]));
    await waitUntil("3 gets wait", async () => (await fx.admin.stats()).waitingGets === 3);
    const fourth = await fx.client.getBuffers([ids[3] as ObjectID]).catch((e: unknown) => e);
    expect(fourth).toBeInstanceOf(LimitExceededError);
    expect((fourth as Error).message).toContain("3 gets waiting");
    // a get that need not wait is still served for the same client
    expect(await fx.client.getBuffers([ids[4] as ObjectID], { timeoutMs: 0 })).toEqual([null]);
    // another client has its own allowance
    const other = ids.slice(0, 3).map((id) => b.getBuffers([id]));
    await waitUntil("6 gets wait", async () => (await fx.admin.stats()).waitingGets === 6);
    for (const id of ids.slice(0, 3)) await b.createAndSeal(id, new TextEncoder().encode(id.hex()));
    // References live as long as their buffers: keep them reachable until the releases.
    const buffers: (Uint8Array | null)[] = [];
    for (const [i, pending] of [...blocked, ...other].entries()) {
      const [buffer] = await pending;
      buffers.push(buffer ?? null);
      expect(new TextDecoder().decode(buffer ?? new Uint8Array())).toBe((ids[i % 3] as ObjectID).hex());
    }
    for (const id of ids.slice(0, 3)) {
      await fx.client.release(id);
      await b.release(id);
    }
    expect(buffers.length).toBe(6);
    await b.delete(ids.slice(0, 3));
    expect(await storeInvariants(fx.client)).toBe("ok");
  });
});

describe("--max-clients and --max-pending-creates", () => {
  test("the client past --max-clients gets LimitExceededError and a log line; a freed slot is reusable", async () => {
    const store = await startStoreProcess({ memory: String(4 * MiB), args: ["--max-clients", "2"] });
    try {
      const first = await connect(store.socketPath);
      const second = await connect(store.socketPath);
      const third = await connect(store.socketPath).catch((e: unknown) => e);
      expect(third).toBeInstanceOf(LimitExceededError);
      expect((third as Error).message).toContain("--max-clients 2");
      await store.waitForOutput(/client refused/);
      // the refused client does not disturb those admitted
      await first.createAndSeal(ObjectID.fromHex("11".repeat(20)), new Uint8Array(4));
      expect(await second.contains(ObjectID.fromHex("11".repeat(20)))).toBe(true);
      await first.disconnect();
      await waitUntil("the slot is free", async () => (await second.storeInfo()).clientCount === 1);
      const again = await connect(store.socketPath);
      expect((await again.storeInfo()).clientCount).toBe(2);
      await again.disconnect();
      await second.disconnect();
    } finally {
      expect(await store.stop()).toBe(0);
    }
  });

  test("--max-pending-creates: a client's 3rd create waiting for memory fails; StoreFullError when waitMs is 0", async () => {
    const started = await startAdminStore({ memory: String(MiB), args: ["--max-pending-creates", "2"] });
    const holder = await connect(started.store.socketPath);
    const waiter = await connect(started.store.socketPath);
    try {
      const big = ObjectID.fromRandom();
      await holder.create(big, MiB);
      const waits = [0, 1].map(() => waiter.create(ObjectID.fromRandom(), 1000, undefined, { waitMs: -1 }));
      await waitUntil("2 creates wait", async () => (await started.admin.stats()).waitingCreates === 2);
      const third = await waiter
        .create(ObjectID.fromRandom(), 1000, undefined, { waitMs: -1 })
        .catch((e: unknown) => e);
      expect(third).toBeInstanceOf(LimitExceededError);
      const now = await waiter.create(ObjectID.fromRandom(), 1000).catch((e: unknown) => e);
      expect(now).toBeInstanceOf(StoreFullError);
      await holder.abort(big);
      for (const w of waits) expect((await w).length).toBe(1000);
      expect(await storeInvariants(holder)).toBe("ok");
    } finally {
      await holder.disconnect();
      await waiter.disconnect();
      started.admin.close();
      expect(await started.store.stop()).toBe(0);
    }
  });

  test("bad limit flags are usage errors (exit 2)", async () => {
    const dir = tempDir();
    for (const args of [
      ["--max-metadata-size", "2MiB"],
      ["--max-ids-per-request", "0"],
      ["--max-pending-gets", "x"],
      ["--max-object-size", "-1"],
      ["--socket-mode", "0999"],
      ["--socket-group", "no-such-group-plasma"],
    ]) {
      const result = await runClientProcess(STORE_CLI, [
        "-m",
        "1MiB",
        "-s",
        join(dir, "never-used.sock"),
        ...args,
      ]);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toContain("Usage: plasma_store");
    }
    rmSync(dir, { recursive: true, force: true });
  });
});
