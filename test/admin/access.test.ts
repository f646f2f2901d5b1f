import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { adminTokenPathOf } from "../../src/admin/token-file.ts";
import { connect, ObjectID } from "../../src/client/index.ts";
import { runCommand } from "../helpers/run.ts";
import { tempDir } from "../helpers/store-process.ts";
import { type AdminStore, FIXTURES, startAdminStore } from "./helpers.ts";

/**
 * The admin plane grants nothing the socket does not: the generated token's file is readable by exactly
 * who may open the socket, so a local user the socket refuses cannot use the admin plane either. Runs as
 * root and starts the attacker as other uids with setpriv, like test/hardening/access.test.ts; the script
 * is bundled into a directory those uids can read.
 */
const ADMIN_AS = join(FIXTURES, "admin-as.ts");
const OTHER_UID = 4252;
const SOCKET_GID = 4353;
const isRoot = process.getuid?.() === 0;

interface Outcome {
  uid: number;
  read: string;
  delete: number;
  evict: number;
}

let scriptDir: string | undefined;
let script: string | undefined;

async function adminAs(s: AdminStore, id: ObjectID, uid: number, groups: number[] = []): Promise<Outcome> {
  if (scriptDir === undefined || script === undefined) throw new Error("the script is bundled in beforeAll");
  const setpriv = ["setpriv", `--reuid=${uid}`, `--regid=${uid}`];
  setpriv.push(groups.length > 0 ? `--groups=${groups.join(",")}` : "--clear-groups");
  const argv = [...setpriv, "bun", script, adminTokenPathOf(s.store.socketPath), s.http, id.hex()];
  const { stdout, stderr } = await runCommand(argv, { cwd: scriptDir, env: { HOME: scriptDir } });
  const line = stdout.trim().split("\n").pop() ?? "";
  if (!line.startsWith("{")) throw new Error(`the script printed no result:\n${stdout}\n${stderr}`);
  return JSON.parse(line) as Outcome;
}

/** A store whose temp dir other uids may traverse (only the files' own modes decide), with one object. */
async function storeWithObject(args: string[]): Promise<{ s: AdminStore; id: ObjectID }> {
  const s = await startAdminStore({ memory: "4MiB", args });
  chmodSync(s.store.dir, 0o711);
  const id = ObjectID.fromRandom();
  const client = await connect(s.store.socketPath);
  await client.createAndSeal(id, new TextEncoder().encode("someone else's"));
  await client.disconnect();
  return { s, id };
}

describe.skipIf(!isRoot)("a local user the socket refuses gets nothing from the admin plane", () => {
  beforeAll(async () => {
    scriptDir = tempDir("plasma-admin-as-");
    chmodSync(scriptDir, 0o755);
    const built = await Bun.build({ entrypoints: [ADMIN_AS], outdir: scriptDir, target: "bun" });
    if (!built.success) throw new Error(`bundling ${ADMIN_AS} failed:\n${built.logs.join("\n")}`);
    script = built.outputs[0]?.path;
    if (script !== undefined) chmodSync(script, 0o644);
  });
  afterAll(() => {
    if (scriptDir !== undefined) rmSync(scriptDir, { recursive: true, force: true });
  });

  test("default 0600 socket: another uid cannot read the token, and cannot delete or evict", async () => {
    const { s, id } = await storeWithObject([]);
    try {
      expect(statSync(adminTokenPathOf(s.store.socketPath)).mode & 0o777).toBe(0o600);
      expect(await adminAs(s, id, OTHER_UID)).toEqual({
        uid: OTHER_UID,
        read: "EACCES",
        delete: 401,
        evict: 401,
      });
      expect((await s.admin.getObject(id.hex())).state).toBe("OBJECT_STATE_SEALED");
    } finally {
      await s.stop();
    }
  });

  test("0660 socket of a group: the token file is 0640 of that group; members may act, others not", async () => {
    const { s, id } = await storeWithObject(["--socket-mode", "0660", "--socket-group", String(SOCKET_GID)]);
    try {
      const st = statSync(adminTokenPathOf(s.store.socketPath));
      expect([st.mode & 0o777, st.gid]).toEqual([0o640, SOCKET_GID]);
      expect(await adminAs(s, id, OTHER_UID)).toEqual({
        uid: OTHER_UID,
        read: "EACCES",
        delete: 401,
        evict: 401,
      });
      expect((await s.admin.getObject(id.hex())).state).toBe("OBJECT_STATE_SEALED");
      const member = await adminAs(s, id, OTHER_UID, [SOCKET_GID]);
      expect(member).toEqual({ uid: OTHER_UID, read: "ok", delete: 200, evict: 200 });
      expect((await s.admin.listObjects()).objects).toEqual([]);
    } finally {
      await s.stop();
    }
  });

  test("--allow-uid on a 0666 socket: the token file stays 0600, so a uid not on the list cannot act", async () => {
    const { s, id } = await storeWithObject(["--socket-mode", "0666", "--allow-uid", "0"]);
    try {
      expect(statSync(adminTokenPathOf(s.store.socketPath)).mode & 0o777).toBe(0o600);
      expect(await adminAs(s, id, OTHER_UID)).toEqual({
        uid: OTHER_UID,
        read: "EACCES",
        delete: 401,
        evict: 401,
      });
      expect((await s.admin.getObject(id.hex())).state).toBe("OBJECT_STATE_SEALED");
    } finally {
      await s.stop();
    }
  });
});
