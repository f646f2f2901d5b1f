import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { connect, ObjectID } from "../../src/client/index.ts";
import { parseBytes, parseCli, STORE_CLI, UsageError } from "../helpers/daemon.ts";
import { runCommand, startLine } from "../helpers/run.ts";
import { startStoreProcess, tempDir } from "../helpers/store-process.ts";

function runCli(args: string[]) {
  return runCommand(["bun", STORE_CLI, ...args], { timeoutMs: 15_000 });
}

describe("sizes and flags", () => {
  test("-m accepts plain bytes, exponents and units", () => {
    expect(parseBytes("1000000000")).toBe(1_000_000_000);
    expect(parseBytes("1e9")).toBe(1_000_000_000);
    expect(parseBytes("512MiB")).toBe(512 * 1024 ** 2);
    expect(parseBytes("2G")).toBe(2 * 1024 ** 3);
    expect(parseBytes("2GiB")).toBe(2 * 1024 ** 3);
    expect(parseBytes("500MB")).toBe(500_000_000);
    expect(parseBytes("10000000000")).toBe(10_000_000_000);
    for (const bad of ["", "abc", "-5", "0", "1.5", "10XB", "1e400"])
      expect(() => parseBytes(bad)).toThrow(UsageError);
  });

  test("flags and environment variables", () => {
    const { options } = parseCli(
      ["-m", "1e6", "-s", "/tmp/x", "-d", "/dev/shm", "-h", "--eviction", "fifo"],
      {},
    );
    expect(options).toMatchObject({
      capacityBytes: 1e6,
      socketPath: "/tmp/x",
      directory: "/dev/shm",
      hugePages: true,
      evictionPolicy: "fifo",
    });
    const fromEnv = parseCli([], { PLASMA_MEMORY: "2G", PLASMA_SOCKET: "/tmp/y" }).options;
    expect(fromEnv).toMatchObject({ capacityBytes: 2 * 1024 ** 3, socketPath: "/tmp/y", hugePages: false });
    expect(parseCli(["-m", "5"], { PLASMA_MEMORY: "2G" }).options.capacityBytes).toBe(5);
    expect(() => parseCli(["--eviction", "random"], {})).toThrow(UsageError);
    expect(() => parseCli(["--bogus"], {})).toThrow(UsageError);
    expect(parseCli(["--help"], {}).help).toBe(true);
  });

  test("--help prints usage and exits 0; bad flags exit non-zero with usage", async () => {
    const help = await runCli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: plasma_store");
    expect(help.stdout).toContain("--huge-pages");
    const bad = await runCli(["--no-such-flag"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("Usage: plasma_store");
    const badSize = await runCli(["-m", "lots"]);
    expect(badSize.code).toBe(2);
    expect(badSize.stderr).toContain('Cannot read -m "lots"');
  });
});

describe("process lifecycle", () => {
  test("logs start-up, connects and disconnects with the peer pid; SIGTERM removes the socket and exits 0", async () => {
    const store = await startStoreProcess({ memory: "1000000" });
    const start = startLine(store.output());
    expect(start).toMatchObject({ capacityBytes: 1_000_000, backing: "memfd", socket: store.socketPath });
    const client = await connect(store.socketPath);
    await client.disconnect();
    await store.waitForOutput(/client disconnected/);
    const lines = store
      .output()
      .split("\n")
      .filter((l) => l.includes("client connected") || l.includes("client disconnected"));
    expect(lines.map((l) => JSON.parse(l).peerPid)).toEqual([process.pid, process.pid]);
    const socketPath = store.socketPath;
    expect(existsSync(socketPath)).toBe(true);
    const dir = store.dir;
    store.proc.kill("SIGTERM");
    expect(await store.proc.exited).toBe(0);
    expect(existsSync(socketPath)).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });

  test("SIGINT (Ctrl-C) stops it cleanly too", async () => {
    const store = await startStoreProcess({ memory: "1000000" });
    const client = await connect(store.socketPath);
    await client.put("x");
    const socketPath = store.socketPath;
    expect(await store.stop("SIGINT")).toBe(0);
    expect(existsSync(socketPath)).toBe(false);
  });

  test("a stale socket file is replaced; a live store on the path makes a second one exit non-zero", async () => {
    const dir = tempDir();
    const socketPath = join(dir, "plasma.sock");
    // A stale socket: left behind by a process killed while listening.
    const holder = Bun.spawn(
      [
        "bun",
        "-e",
        `Bun.listen({ unix: ${JSON.stringify(socketPath)}, socket: { data() {} } }); console.log("up"); await Bun.sleep(60000);`,
      ],
      { stdout: "pipe" },
    );
    await holder.stdout.getReader().read();
    holder.kill("SIGKILL");
    await holder.exited;
    expect(existsSync(socketPath)).toBe(true);
    const store = await startStoreProcess({ memory: "1000000", socketPath });
    try {
      expect(store.output()).toContain("stale socket");
      const second = await runCli([
        "-m",
        "1000000",
        "-s",
        socketPath,
        "--admin-grpc",
        "off",
        "--admin-http",
        "off",
      ]);
      expect(second.code).not.toBe(0);
      expect(second.stderr).toContain(`Another plasma_store is already listening on ${socketPath}`);
      const client = await connect(socketPath);
      expect(await client.get(await client.put("still serving"))).toBe("still serving");
      await client.disconnect();
    } finally {
      expect(await store.stop()).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("arena backings", () => {
  test("-d DIR backs the arena with an unlinked file in DIR", async () => {
    const dir = tempDir("plasma-arena-");
    const store = await startStoreProcess({ memory: "4MiB", args: ["-d", dir] });
    try {
      const start = startLine(store.output());
      expect(start).toMatchObject({ backing: "file", directory: dir });
      expect(readdirSync(dir)).toEqual([]);
      const client = await connect(store.socketPath);
      const id = ObjectID.fromRandom();
      const buffer = await client.create(id, 1024 * 1024);
      buffer.fill(7);
      await client.seal(id);
      const [view] = await client.getBuffers([id]);
      expect(view?.every((v) => v === 7)).toBe(true);
      await client.disconnect();
    } finally {
      expect(await store.stop()).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("capacities beyond 4 GiB work; one object beyond 4 GiB is a RangeError naming the limit", async () => {
    const store = await startStoreProcess({ memory: "10000000000" });
    try {
      const client = await connect(store.socketPath);
      expect(await client.storeCapacity()).toBe(10_000_000_000);
      const error = await client.create(ObjectID.fromRandom(), 5 * 1024 ** 3).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RangeError);
      expect((error as Error).message).toContain("4 GiB");
      // Objects placed beyond the first 4 GiB of the arena are fine.
      const filler = ObjectID.fromRandom();
      await client.create(filler, 4 * 1024 ** 3);
      const far = ObjectID.fromRandom();
      const buffer = await client.create(far, 16);
      buffer.set([9, 8, 7]);
      await client.seal(far);
      const listed = await client.list();
      expect(listed.length).toBe(2);
      const [view] = await client.getBuffers([far]);
      expect([...(view as Uint8Array).subarray(0, 3)]).toEqual([9, 8, 7]);
      await client.disconnect();
    } finally {
      expect(await store.stop()).toBe(0);
    }
  });
});
