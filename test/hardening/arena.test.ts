import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { connect, ObjectID } from "../../src/client/index.ts";
import { runClientProcess, type StoreProcess, startStoreProcess, tempDir } from "../helpers/store-process.ts";
import { spawnChild, storeInvariants } from "./helpers.ts";

const ATTACK = join(import.meta.dir, "clients/arena-attack.ts");
const MiB = 1024 * 1024;
const F_SEAL_SEAL = 1;
const F_SEAL_SHRINK = 2;
const F_SEAL_GROW = 4;

interface ResizeResult {
  before: number;
  after: number;
  seals: number;
  shrink: string;
  grow: string;
}

async function attack(
  store: StoreProcess,
  mode: string,
  hex = "",
): Promise<{ code: number; stdout: string }> {
  const result = await runClientProcess(ATTACK, [store.socketPath, mode, hex]);
  return { code: result.code, stdout: result.stdout };
}

describe("arena integrity", () => {
  test("memfd arena: a client cannot shrink or grow it through the descriptor it was given (seals)", async () => {
    const store = await startStoreProcess({ memory: String(4 * MiB) });
    try {
      const writer = await connect(store.socketPath);
      const id = ObjectID.fromRandom();
      await writer.createAndSeal(id, new TextEncoder().encode("still here"));
      const { stdout, code } = await attack(store, "resize");
      expect(code).toBe(0);
      const result = JSON.parse(stdout) as ResizeResult;
      expect(result.seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)).toBe(
        F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL,
      );
      expect(result).toMatchObject({ before: 4 * MiB, after: 4 * MiB, shrink: "EPERM", grow: "EPERM" });
      const [buffer] = await writer.getBuffers([id]);
      expect(new TextDecoder().decode(buffer ?? new Uint8Array())).toBe("still here");
      await writer.release(id);
      expect(buffer?.length).toBe(10); // keeps the buffer (and so its reference) reachable until the release
      expect(await storeInvariants(writer)).toBe("ok");
      await writer.disconnect();
    } finally {
      expect(await store.stop()).toBe(0);
    }
  });

  test("a sealed object's buffer is a read-only mapping: writing into it kills the writer (SIGSEGV), not the data", async () => {
    const store = await startStoreProcess({ memory: String(4 * MiB) });
    try {
      const owner = await connect(store.socketPath);
      const id = ObjectID.fromRandom();
      await owner.createAndSeal(id, new Uint8Array(64).fill(0x42));
      for (const [mode, hex] of [
        ["write-sealed", id.hex()],
        ["write-own", ""],
      ] as const) {
        const child = spawnChild(ATTACK, [store.socketPath, mode, hex]);
        await child.proc.exited;
        expect({ mode, signal: child.proc.signalCode }).toEqual({ mode, signal: "SIGSEGV" });
        expect(child.output()).toContain("read 66");
        expect(child.output()).not.toContain("wrote");
      }
      const [buffer] = await owner.getBuffers([id]);
      expect(buffer?.every((b) => b === 0x42)).toBe(true);
      await owner.release(id);
      expect(buffer?.length).toBe(64); // keeps the buffer (and so its reference) reachable until the release
      const info = await owner.storeInfo();
      // the crashed writers' references are gone (the write-own writer's sealed object stays, unused);
      // the shared object is intact
      expect(info).toMatchObject({ clientCount: 1, objectCount: 2 });
      expect(await storeInvariants(owner)).toBe("ok");
      const listed = await owner.list();
      expect(listed.map((o) => [o.state, o.refCount])).toEqual([
        ["sealed", 0],
        ["sealed", 0],
      ]);
      expect(listed[0]?.id.hex()).toBe(id.hex());
      await owner.disconnect();
    } finally {
      expect(await store.stop()).toBe(0);
    }
  });

  test("-d arena file (no seals possible): the store notices a resize, restores the size and keeps serving", async () => {
    const dir = tempDir("plasma-arena-dir-");
    const store = await startStoreProcess({ memory: String(4 * MiB), args: ["-d", dir] });
    try {
      const { stdout, code } = await attack(store, "resize");
      expect(code).toBe(0);
      const result = JSON.parse(stdout) as ResizeResult;
      // Linux seals only memfds: here the resize goes through...
      expect(result).toMatchObject({ before: 4 * MiB, shrink: "ok", grow: "ok" });
      expect(result.seals === -1 || (result.seals & (F_SEAL_SHRINK | F_SEAL_GROW)) === 0).toBe(true);
      // ...and the store puts the size back when the client leaves, with an error in its log.
      await store.waitForOutput(/a client resized the arena file; restoring its size/);
      expect(JSON.parse((await attack(store, "size")).stdout)).toEqual({ size: 4 * MiB });
      // The whole arena is usable again, including the pages that were cut off.
      const client = await connect(store.socketPath);
      const id = ObjectID.fromRandom();
      const buffer = await client.create(id, 4 * MiB - 4096);
      buffer.fill(0x5a);
      await client.seal(id);
      const reader = await connect(store.socketPath);
      const [read] = await reader.getBuffers([id]);
      expect(read?.every((b) => b === 0x5a)).toBe(true);
      expect(await client.hash(id)).toEqual(await reader.hash(id));
      await reader.release(id);
      expect(read?.length).toBe(4 * MiB - 4096); // keeps the buffer reachable until the release
      expect((buffer.buffer as ArrayBuffer).detached).toBe(true); // seal() detached the creator's buffer
      expect(await storeInvariants(client)).toBe("ok");
      await reader.disconnect();
      await client.disconnect();
    } finally {
      expect(await store.stop()).toBe(0);
      (await import("node:fs")).rmSync(dir, { recursive: true, force: true });
    }
  });
});
