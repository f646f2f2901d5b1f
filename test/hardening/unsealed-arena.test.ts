import { describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { connect, ObjectID, type PlasmaClient } from "../../src/client/index.ts";
import { startAdminStore } from "../helpers/admin-store.ts";
import { tempDir } from "../helpers/store-process.ts";
import { waitUntil } from "../helpers/wait.ts";
import { fdCount, fdLinks, spawnChild, storeInvariants } from "./helpers.ts";

/**
 * A `-d` arena file cannot be sealed: any read-write client can ftruncate the descriptor it was given.
 * The store must never touch the lost pages through its mapping (SIGBUS): it reads and writes such an
 * arena with pread/pwrite. Each test cuts the file under the store and then drives every path where the
 * store itself touches arena bytes: admin reads (metadata and a streamed download), getMetadata, an
 * inline createAndSeal, the metadata of a create, and hash.
 */
const TRUNCATE = join(import.meta.dir, "clients/truncate-arena.ts");
const MiB = 1024 * 1024;
const enc = new TextEncoder();

async function putSome(client: PlasmaClient, count: number): Promise<ObjectID[]> {
  const ids: ObjectID[] = [];
  for (let i = 0; i < count; i++) {
    const id = ObjectID.fromRandom();
    await client.createAndSeal(id, new Uint8Array(3000 + i).fill(0x30 + i), enc.encode(`meta-${i}`));
    ids.push(id);
  }
  return ids;
}

/** Another client is served correctly: a fresh object round-trips with its metadata and hash. */
async function othersAnswered(): Promise<void> {
  const { store } = current;
  const other = await connect(store.socketPath);
  const id = ObjectID.fromRandom();
  const data = new Uint8Array(64 * 1024).map((_, i) => (i * 7) & 0xff);
  await other.createAndSeal(id, data, enc.encode("after"));
  const [got] = await other.getBuffers([id], { withMeta: true });
  expect(got?.data).toEqual(data);
  expect(new TextDecoder().decode(got?.metadata)).toBe("after");
  expect((await other.hash(id)).length).toBe(8);
  await other.release(id);
  expect(got?.data.length).toBe(data.length); // keeps the buffer reachable until the release
  expect(await storeInvariants(other)).toBe("ok");
  await other.disconnect();
}

/** The store's descriptors return to the count before the attack (closing connections take a turn). */
async function fdsBackTo(pid: number, baseline: number): Promise<void> {
  await waitUntil("the store's descriptors are back to baseline", () => fdCount(pid) === baseline).catch(
    () => {},
  );
  expect(fdCount(pid), fdLinks(pid).join("\n")).toBe(baseline);
}

let current: Awaited<ReturnType<typeof startAdminStore>>;

async function withDirectoryStore(
  body: (dir: string) => Promise<void>,
  capacityBytes = 8 * MiB,
): Promise<void> {
  const dir = tempDir("plasma-unsealed-");
  current = await startAdminStore({ memory: String(capacityBytes), args: ["-d", dir] });
  try {
    await body(dir);
  } finally {
    current.admin.close();
    expect(await current.store.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("an unsealed (-d) arena truncated by a client", () => {
  test("admin reads of objects whose pages were cut off: the store answers (zeros) and stays alive", async () => {
    await withDirectoryStore(async () => {
      const { store, admin } = current;
      const owner = await connect(store.socketPath);
      const ids = await putSome(owner, 4);
      await admin.info(); // the admin channel's connection is part of the baseline
      const baselineFds = fdCount(store.proc.pid);
      const attacker = spawnChild(TRUNCATE, [store.socketPath, "once"]);
      const line = await attacker.waitForLine(/\{"truncatedFrom".*\}/);
      expect(JSON.parse(line)).toEqual({ truncatedFrom: 8 * MiB, size: 0 });
      // The attacker is still connected: nothing restored the size yet. These read the lost pages.
      for (const id of ids) {
        const info = await admin.getObject(id.hex());
        expect(info.dataSizeBytes).toBeGreaterThanOrEqual(3000);
        let bytes = 0;
        for await (const chunk of admin.readObject(id.hex())) {
          bytes += chunk.data.length;
          expect(chunk.data.every((b) => b === 0)).toBe(true); // lost pages read back as zeros
        }
        expect(bytes).toBe(info.dataSizeBytes);
      }
      expect(store.proc.exitCode).toBeNull();
      await attacker.kill();
      await othersAnswered();
      await fdsBackTo(store.proc.pid, baselineFds);
      await owner.disconnect();
    });
  });

  test("getMetadata, createAndSeal, create and hash while a client keeps truncating: no SIGBUS", async () => {
    await withDirectoryStore(async () => {
      const { store } = current;
      const worker = await connect(store.socketPath);
      const ids = await putSome(worker, 8);
      const baselineFds = fdCount(store.proc.pid);
      const attacker = spawnChild(TRUNCATE, [store.socketPath, "loop"]);
      await attacker.waitForLine(/looping/);
      for (let round = 0; round < 300; round++) {
        const metadata = await worker.getMetadata(ids, { timeoutMs: 0 });
        expect(metadata.length).toBe(ids.length);
        const id = ObjectID.fromRandom();
        await worker.createAndSeal(id, new Uint8Array(512).fill(round & 0xff), enc.encode("inline"));
        const created = ObjectID.fromRandom();
        await worker.create(created, 128, enc.encode("created-meta"));
        await worker.seal(created);
        await worker.release(created);
        expect((await worker.hash(id)).length).toBe(8);
        await worker.delete([id, created]);
      }
      expect(store.proc.exitCode).toBeNull();
      expect(attacker.proc.exitCode).toBeNull(); // it was still truncating all along
      await attacker.kill();
      await store.waitForOutput(/a client resized the arena file; restoring its size/);
      await othersAnswered();
      await fdsBackTo(store.proc.pid, baselineFds);
      await worker.disconnect();
    });
  });

  test("a 96 MiB object hashed off the loop while a client keeps truncating: the worker preads, no SIGBUS", async () => {
    await withDirectoryStore(async () => {
      const { store } = current;
      const owner = await connect(store.socketPath);
      const big = ObjectID.fromRandom();
      const buffer = await owner.create(big, 96 * MiB);
      new Uint8Array(buffer).fill(0x5a);
      await owner.seal(big); // the owner never touches its view again: the file is about to be cut
      const small = await putSome(owner, 2);
      // A first large hash starts the hash worker, whose event loop holds descriptors of its own.
      const warmUp = ObjectID.fromRandom();
      await owner.createAndSeal(warmUp, new Uint8Array(2 * MiB).fill(1));
      expect((await owner.hash(warmUp)).length).toBe(8);
      const baselineFds = fdCount(store.proc.pid);
      const attacker = spawnChild(TRUNCATE, [store.socketPath, "loop"]);
      await attacker.waitForLine(/looping/);
      const hasher = await connect(store.socketPath);
      const hashed = hasher.hash(big);
      // Others are answered meanwhile, on requests that do not touch their own mappings of the cut file.
      const other = await connect(store.socketPath);
      for (let round = 0; round < 20; round++) {
        expect(await other.contains(big)).toBe(true);
        expect((await other.getMetadata(small, { timeoutMs: 0 })).length).toBe(2);
        const id = ObjectID.fromRandom();
        await other.createAndSeal(id, new Uint8Array(256).fill(round), enc.encode("during"));
        await other.delete([id]);
      }
      expect((await hashed).length).toBe(8);
      expect(store.proc.exitCode).toBeNull();
      expect(attacker.proc.exitCode).toBeNull(); // it was still truncating all along
      await attacker.kill();
      await other.disconnect();
      await hasher.disconnect();
      await othersAnswered();
      await fdsBackTo(store.proc.pid, baselineFds);
      await owner.disconnect();
    }, 128 * MiB);
  });
});
