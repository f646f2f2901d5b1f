import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { prerequisite } from "../helpers/prerequisites.ts";
import { runCommand } from "../helpers/run.ts";
import { type StoreProcess, startStoreProcess, tempDir } from "../helpers/store-process.ts";

/**
 * The test runs as root and starts client processes as other uids with setpriv (util-linux); the uids
 * and gids need no passwd entries. The store's temp dir is opened for traversal so only the socket's own
 * mode and owner decide who gets in. The checkout may live where those uids cannot read (a clone in a
 * root-only directory), so the client script is bundled into a directory they can read and run there.
 */
const CONNECT_AS = join(import.meta.dir, "clients/connect-as.ts");
const OTHER_UID = 4242;
const ALLOWED_UID = 4244;
const SOCKET_GID = 4343;
const isRoot = process.getuid?.() === 0;

interface Outcome {
  ok?: boolean;
  uid?: number;
  error?: string;
  code?: string;
  message?: string;
}

let clientDir: string | undefined;
let clientScript: string | undefined;

/** Bundles connect-as.ts with the client library into a directory every uid can read. */
async function bundleClient(): Promise<void> {
  clientDir = tempDir("plasma-access-client-");
  chmodSync(clientDir, 0o755);
  const built = await Bun.build({ entrypoints: [CONNECT_AS], outdir: clientDir, target: "bun" });
  if (!built.success) throw new Error(`bundling ${CONNECT_AS} failed:\n${built.logs.join("\n")}`);
  clientScript = built.outputs[0]?.path;
  if (clientScript === undefined) throw new Error(`bundling ${CONNECT_AS} wrote no file`);
  chmodSync(clientScript, 0o644);
}

/** The gid of a group, from /etc/group. */
function groupId(name: string): number {
  const line = readFileSync("/etc/group", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${name}:`));
  const gid = Number(line?.split(":")[2]);
  if (line === undefined || !Number.isInteger(gid)) throw new Error(`no group ${name} in /etc/group`);
  return gid;
}

async function connectAs(store: StoreProcess, uid: number | null, groups: number[] = []): Promise<Outcome> {
  if (clientDir === undefined || clientScript === undefined)
    throw new Error("the client is bundled in beforeAll");
  const prefix =
    uid === null
      ? []
      : [
          "setpriv",
          `--reuid=${uid}`,
          `--regid=${uid}`,
          groups.length > 0 ? `--groups=${groups.join(",")}` : "--clear-groups",
        ];
  const { stdout, stderr } = await runCommand([...prefix, "bun", clientScript, store.socketPath], {
    cwd: clientDir,
    env: { HOME: clientDir },
  });
  const line = stdout.trim().split("\n").pop() ?? "";
  if (!line.startsWith("{")) throw new Error(`client printed no result:\n${stdout}\n${stderr}`);
  return JSON.parse(line) as Outcome;
}

async function withStore(args: string[], body: (store: StoreProcess) => Promise<void>): Promise<void> {
  const store = await startStoreProcess({ memory: String(4 * 1024 * 1024), args });
  chmodSync(store.dir, 0o711);
  try {
    await body(store);
  } finally {
    expect(await store.stop()).toBe(0);
  }
}

const hasRoot = prerequisite("root (clients run as other uids)", isRoot ? null : "not root");

describe.skipIf(!hasRoot)("access control", () => {
  beforeAll(bundleClient);
  afterAll(() => {
    if (clientDir !== undefined) rmSync(clientDir, { recursive: true, force: true });
  });

  test("default socket mode is 0600: another uid cannot connect (a clear PlasmaConnectionError), the owner can", async () => {
    await withStore([], async (store) => {
      expect(statSync(store.socketPath).mode & 0o777).toBe(0o600);
      const other = await connectAs(store, OTHER_UID);
      expect(other.error).toBe("PlasmaConnectionError");
      expect(other.message).toContain("EACCES");
      expect(other.message).toContain(store.socketPath);
      expect(await connectAs(store, null)).toEqual({ ok: true, uid: 0 });
    });
  });

  test("--socket-mode 0660 --socket-group: members of the group connect, others do not", async () => {
    await withStore(["--socket-mode", "0660", "--socket-group", String(SOCKET_GID)], async (store) => {
      const st = statSync(store.socketPath);
      expect(st.mode & 0o777).toBe(0o660);
      expect(st.gid).toBe(SOCKET_GID);
      expect(await connectAs(store, OTHER_UID, [SOCKET_GID])).toEqual({ ok: true, uid: OTHER_UID });
      const outsider = await connectAs(store, OTHER_UID);
      expect(outsider.error).toBe("PlasmaConnectionError");
      expect(outsider.message).toContain("EACCES");
    });
  });

  test("--socket-group takes a group name", async () => {
    await withStore(["--socket-mode", "660", "--socket-group", "nogroup"], async (store) => {
      expect(statSync(store.socketPath).gid).toBe(groupId("nogroup"));
    });
  });

  test("admin plane token rules hold next to the socket rules: no token or a wrong one is 401, the right one works", async () => {
    const token = "hardening-token";
    await withStore(
      [
        "--socket-mode",
        "0666",
        "--allow-uid",
        "0",
        "--admin-grpc",
        "off",
        "--admin-http",
        "127.0.0.1:0",
        "--admin-token",
        token,
      ],
      async (store) => {
        const address = /"adminHttp":"([^"]+)"/.exec(store.output())?.[1];
        expect(address).toBeDefined();
        const get = (auth: string | null) =>
          fetch(`http://${address}/v1/stats`, {
            headers: { connection: "close", ...(auth === null ? {} : { authorization: auth }) },
          });
        expect((await get(null)).status).toBe(401);
        expect((await get("Bearer wrong-token")).status).toBe(401);
        expect((await get(token)).status).toBe(401);
        const ok = await get(`Bearer ${token}`);
        expect(ok.status).toBe(200);
        expect(((await ok.json()) as { connectedClients: number }).connectedClients).toBe(0);
        // the admin token is no way around --allow-uid on the data path
        expect((await connectAs(store, OTHER_UID)).error).toBe("AccessDeniedError");
      },
    );
  });

  test("--allow-uid: a uid not on the list gets AccessDeniedError and the store logs it; listed uids get in", async () => {
    await withStore(["--socket-mode", "0666", "--allow-uid", `0,${ALLOWED_UID}`], async (store) => {
      expect(statSync(store.socketPath).mode & 0o777).toBe(0o666);
      const refused = await connectAs(store, OTHER_UID);
      expect(refused.error).toBe("AccessDeniedError");
      expect(refused.code).toBe("ACCESS_DENIED");
      expect(refused.message).toContain(`uid ${OTHER_UID} is not allowed`);
      const line = await store.waitForOutput(new RegExp(`.*"peerUid":${OTHER_UID}.*client refused.*`));
      expect(line).toContain("is not allowed");
      expect(await connectAs(store, ALLOWED_UID)).toEqual({ ok: true, uid: ALLOWED_UID });
      expect(await connectAs(store, null)).toEqual({ ok: true, uid: 0 });
    });
  });
});
