import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { TCPSocketListener } from "bun";
import { DEFAULT_ADMIN_GRPC, DEFAULT_ADMIN_HTTP } from "../../src/admin/config.ts";
import { STORE_CLI } from "../helpers/daemon.ts";
import { runCommand } from "../helpers/run.ts";
import { startStoreProcess, tempDir } from "../helpers/store-process.ts";
import { adminAddresses } from "./helpers.ts";

/** Listens on HOST:PORT so nobody else can; null when somebody already does (then it is busy anyway). */
function occupy(address: string): TCPSocketListener | null {
  const [host, port] = address.split(":") as [string, string];
  try {
    return Bun.listen({ hostname: host, port: Number(port), socket: { data() {} } });
  } catch (error) {
    if ((error as { code?: string }).code === "EADDRINUSE") return null;
    throw error;
  }
}

/** Any free loopback port, held until the test lets go of it. */
function busyEphemeralPort(): TCPSocketListener {
  return Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
}

describe("admin ports that are busy", () => {
  const held: TCPSocketListener[] = [];
  beforeAll(() => {
    for (const address of [DEFAULT_ADMIN_GRPC, DEFAULT_ADMIN_HTTP]) {
      const listener = occupy(address);
      if (listener !== null) held.push(listener);
    }
  });
  afterAll(() => {
    for (const listener of held) listener.stop(true);
  });

  test("busy default ports: the store starts without them and warns for each, naming the flag", async () => {
    // No --admin-* flag and no PLASMA_ADMIN_* variable: the admin plane takes the default addresses.
    const store = await startStoreProcess({ memory: "4MiB", adminDefaults: true });
    try {
      expect(adminAddresses(store.output())).toEqual({ grpc: null, http: null });
      expect(store.output()).toContain("admin grpc not started: its default address is busy");
      expect(store.output()).toContain("pass --admin-grpc HOST:PORT or off");
      expect(store.output()).toContain("admin http not started: its default address is busy");
      expect(store.output()).toContain("pass --admin-http HOST:PORT or off");
    } finally {
      expect(await store.stop()).toBe(0);
    }
  });

  test("a busy port asked for explicitly: the store does not start, exits 1 and names the address", async () => {
    const dir = tempDir();
    const busy = busyEphemeralPort();
    const address = `127.0.0.1:${busy.port}`;
    try {
      for (const [flags, message] of [
        [["--admin-grpc", address, "--admin-http", "off"], `Cannot serve admin gRPC on ${address}`],
        [["--admin-http", address, "--admin-grpc", "off"], `Is port ${busy.port} in use?`],
      ] as const) {
        const socketPath = join(dir, "store.sock");
        const result = await runCommand(["bun", STORE_CLI, "-m", "1MiB", "-s", socketPath, ...flags]);
        expect({ flags, code: result.code }).toEqual({ flags, code: 1 });
        expect(result.stderr).toContain("plasma_store: ");
        expect(result.stderr).toContain(message);
        expect(result.stdout).toContain("plasma_store could not start");
        expect(existsSync(socketPath)).toBe(false);
      }
    } finally {
      busy.stop(true);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
