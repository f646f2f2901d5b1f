/**
 * Issue 16 with the cluster on: a spilled object stays registered for its node, a pull from another node
 * is served from its file (restored on the holder, verified), and deleting it on the holder unregisters it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ObjectID } from "../../src/client/index.ts";
import { type EtcdInstance, startEtcd } from "../helpers/etcd.ts";
import { waitUntil } from "../helpers/wait.ts";
import { type ClusterStore, startClusterStore, stopAll } from "./cluster-stores.ts";

const MIB = 1024 * 1024;
let etcd: EtcdInstance;
let a: ClusterStore;
let b: ClusterStore;
let spillDir: string;

beforeAll(async () => {
  spillDir = mkdtempSync(join(tmpdir(), "plasma-spilled-pull-"));
  etcd = await startEtcd();
  [a, b] = await Promise.all([
    startClusterStore(etcd, "node-a", { memory: "32MiB", args: ["--spill-dir", spillDir] }),
    startClusterStore(etcd, "node-b", { memory: "32MiB" }),
  ]);
});

afterAll(async () => {
  await stopAll([a, b]);
  await etcd?.stop();
  rmSync(spillDir, { recursive: true, force: true });
});

function pattern(sizeBytes: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(sizeBytes);
  for (let i = 0; i < sizeBytes; i++) bytes[i] = (i * 131 + seed * 7 + (i >> 9)) & 0xff;
  return bytes;
}

async function stateOnA(id: ObjectID): Promise<string | undefined> {
  return (await a.client.list()).find((o) => o.id.equals(id))?.state;
}

/** Puts on A, waits until the directory lists A, then spills it on A (evict). */
async function putAndSpillOnA(id: ObjectID, data: Uint8Array, metadata: Uint8Array): Promise<void> {
  await a.client.createAndSeal(id, data, metadata);
  await waitUntil("A registers the object", async () => (await a.client.locate([id]))[0]?.length === 1);
  expect(await a.client.evict(64 * MIB)).toBeGreaterThan(0);
  await waitUntil("the object is spilled on A", async () => (await stateOnA(id)) === "spilled");
}

/** A later registration by A has reached etcd: whatever A queued before it (an unregister) has too. */
async function flushRegistrationsOfA(): Promise<void> {
  const marker = ObjectID.fromRandom();
  await a.client.createAndSeal(marker, new Uint8Array([1]));
  await waitUntil("A registers the marker", async () => (await a.client.locate([marker]))[0]?.length === 1);
  await a.client.delete(marker);
}

describe("a spilled object in a cluster", () => {
  test("stays registered for A while spilled, and a get on B reads it byte-identical", async () => {
    const id = ObjectID.fromRandom();
    const data = pattern(3 * MIB + 17, 1);
    const metadata = pattern(300, 2);
    await putAndSpillOnA(id, data, metadata);
    await flushRegistrationsOfA();
    expect(await a.client.locate([id])).toEqual([["node-a"]]);
    expect(await b.client.contains(id)).toBe(false);

    const [got] = await b.client.getBuffers([id], { timeoutMs: 10_000, withMeta: true });
    expect(got).not.toBeNull();
    expect(Buffer.from(got?.data ?? []).equals(Buffer.from(data))).toBe(true);
    expect(Buffer.from(got?.metadata ?? []).equals(Buffer.from(metadata))).toBe(true);
    await b.client.release(id);
    // A served it by restoring it: it is in A's memory again, and both nodes hold it.
    expect(await stateOnA(id)).toBe("sealed");
    await waitUntil("B registers its copy", async () => (await a.client.locate([id]))[0]?.length === 2);
    expect(((await a.client.locate([id]))[0] ?? []).sort()).toEqual(["node-a", "node-b"]);
  });

  test("deleting a spilled object on A unregisters it", async () => {
    const id = ObjectID.fromRandom();
    await putAndSpillOnA(id, pattern(MIB, 3), new Uint8Array(0));
    await a.client.delete(id);
    expect(await a.client.contains(id)).toBe(false);
    await waitUntil("A unregisters the object", async () => (await a.client.locate([id]))[0]?.length === 0);
    expect(await b.client.getBuffers([id], { timeoutMs: 0 })).toEqual([null]);
  });

  test("a spill file whose content was altered is never served", async () => {
    const id = ObjectID.fromRandom();
    const data = pattern(2 * MIB, 4);
    await putAndSpillOnA(id, data, new Uint8Array(0));
    const fd = openSync(join(spillDir, `${id.hex()}.spill`), "r+");
    try {
      const byte = new Uint8Array(1);
      const at = 64 + MIB + 5; // in the data, past the 64-byte header
      readSync(fd, byte, 0, 1, at);
      byte[0] = (byte[0] ?? 0) ^ 0xff;
      writeSync(fd, byte, 0, 1, at);
    } finally {
      closeSync(fd);
    }
    expect(await b.client.getBuffers([id], { timeoutMs: 1000 })).toEqual([null]);
    expect(await b.client.contains(id)).toBe(false);
    expect(await stateOnA(id)).toBe("spilled"); // the failed restore left it spilled
  });
});
