import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, rmSync } from "node:fs";
import { join } from "node:path";
import { connect, ObjectID } from "../../src/client/index.ts";
import { runCommand } from "../helpers/run.ts";
import { type StoreProcess, startStoreProcess, tempDir } from "../helpers/store-process.ts";
import { waitUntil } from "../helpers/wait.ts";
import { fdCount, fdLinks, storeInvariants } from "./helpers.ts";

/**
 * --read-only-uid: a client of that uid gets an O_RDONLY descriptor. Run as that uid (setpriv, from a
 * bundle every uid can read, as in access.test.ts), it tries to write, resize, punch, map writable,
 * mprotect, reopen read-write through /proc/self/fd and chmod the arena, and sends every mutating
 * request: all fail. It still reads a sealed object zero-copy (inside its read-only arena mapping).
 */
const CLIENT = join(import.meta.dir, "clients/read-only-client.ts");
const READ_ONLY_UID = 4250;
const isRoot = process.getuid?.() === 0;
const MiB = 1024 * 1024;

let clientDir: string | undefined;
let clientScript: string | undefined;

async function bundleClient(): Promise<void> {
  clientDir = tempDir("plasma-read-only-client-");
  chmodSync(clientDir, 0o755);
  const built = await Bun.build({ entrypoints: [CLIENT], outdir: clientDir, target: "bun" });
  if (!built.success) throw new Error(`bundling ${CLIENT} failed:\n${built.logs.join("\n")}`);
  clientScript = built.outputs[0]?.path;
  if (clientScript === undefined) throw new Error(`bundling ${CLIENT} wrote no file`);
  chmodSync(clientScript, 0o644);
}

interface Report {
  readOnly: boolean;
  uid: number;
  attacks: Record<string, string>;
  read: { length: number; allExpected: boolean; inArenaMapping: boolean };
  requests: Record<string, string>;
  stillContains: boolean;
}

async function runReadOnly(store: StoreProcess, args: string[]): Promise<Report> {
  if (clientDir === undefined || clientScript === undefined) throw new Error("bundled in beforeAll");
  const setpriv = ["setpriv", `--reuid=${READ_ONLY_UID}`, `--regid=${READ_ONLY_UID}`, "--clear-groups"];
  const { stdout, stderr } = await runCommand([...setpriv, "bun", clientScript, store.socketPath, ...args], {
    cwd: clientDir,
    env: { HOME: clientDir },
  });
  const line = stdout.trim().split("\n").pop() ?? "";
  if (!line.startsWith("{")) throw new Error(`client printed no result:\n${stdout}\n${stderr}`);
  return JSON.parse(line) as Report;
}

describe.skipIf(!isRoot)("read-only uids", () => {
  beforeAll(bundleClient);
  afterAll(() => {
    if (clientDir !== undefined) rmSync(clientDir, { recursive: true, force: true });
  });

  for (const backing of ["memfd", "-d"] as const) {
    test(`${backing}: a read-only uid cannot write, resize, punch or reopen the arena, yet reads zero-copy`, async () => {
      const arenaDir = backing === "-d" ? tempDir("plasma-read-only-arena-") : null;
      const args = ["--socket-mode", "0666", "--allow-uid", "0", "--read-only-uid", String(READ_ONLY_UID)];
      if (arenaDir !== null) {
        chmodSync(arenaDir, 0o755);
        args.push("-d", arenaDir);
      }
      const store = await startStoreProcess({ memory: String(4 * MiB), args });
      chmodSync(store.dir, 0o711);
      try {
        const owner = await connect(store.socketPath);
        expect(owner.readOnly).toBe(false);
        const id = ObjectID.fromRandom();
        await owner.createAndSeal(id, new Uint8Array(10_000).fill(0x3c), new TextEncoder().encode("m"));
        const baselineFds = fdCount(store.proc.pid);
        const report = await runReadOnly(store, [id.hex(), "10000", String(0x3c)]);
        expect(report.uid).toBe(READ_ONLY_UID);
        expect(report.readOnly).toBe(true);
        expect(report.attacks).toEqual({
          write: "EBADF",
          ftruncate: "EINVAL", // Linux's answer to ftruncate of a descriptor not open for writing
          punch: "EBADF",
          mmapWrite: "EACCES",
          mprotect: "EACCES",
          reopenReadWrite: "EACCES",
          reopenWriteOnly: "EACCES",
          fchmod: "EPERM",
        });
        expect(report.read).toEqual({ length: 10_000, allExpected: true, inArenaMapping: true });
        expect(report.requests).toEqual({
          create: "AccessDeniedError",
          createAndSeal: "AccessDeniedError",
          put: "AccessDeniedError",
          seal: "AccessDeniedError",
          abort: "AccessDeniedError",
          delete: "AccessDeniedError",
          evict: "AccessDeniedError",
        });
        expect(report.stillContains).toBe(true);
        await store.waitForOutput(new RegExp(`"peerUid":${READ_ONLY_UID},"readOnly":true.*client connected`));
        // The store is alive, the object intact, the owner still answered, descriptors back to baseline.
        const [got] = await owner.getBuffers([id]);
        expect(got?.every((b) => b === 0x3c)).toBe(true);
        await owner.release(id);
        expect(got?.length).toBe(10_000);
        expect(await owner.hash(id)).toHaveLength(8);
        expect(await storeInvariants(owner)).toBe("ok");
        await waitUntil(
          "the read-only client's connection is closed",
          () => fdCount(store.proc.pid) === baselineFds,
        ).catch(() => {});
        expect(fdCount(store.proc.pid), fdLinks(store.proc.pid).join("\n")).toBe(baselineFds);
        await owner.disconnect();
      } finally {
        expect(await store.stop()).toBe(0);
        if (arenaDir !== null) rmSync(arenaDir, { recursive: true, force: true });
      }
    });
  }
});
