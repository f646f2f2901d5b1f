import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { ObjectID } from "../../src/client/index.ts";
import { useAdminStore } from "../helpers/store-fixture.ts";
import { ADMIN_CLI, pattern, runAdminCli } from "./helpers.ts";

describe("plasma-admin", () => {
  const s = useAdminStore({ memory: "32MiB" });
  const big = ObjectID.fromRandom();
  const small = ObjectID.fromRandom();
  const bigData = pattern(3 * 1024 * 1024 + 17, 4);
  // plasma-admin reads the token the store generated from the file next to the socket by itself.
  const cli = (...args: string[]) => runAdminCli(["--addr", s.grpc, "--socket", s.store.socketPath, ...args]);

  beforeAll(async () => {
    await s.client.createAndSeal(big, bigData, new TextEncoder().encode("big-meta"));
    await s.client.createAndSeal(small, pattern(1500, 5), new TextEncoder().encode("small"));
  });

  test("info and stats, as tables and as JSON", async () => {
    const info = await cli("info");
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(new RegExp(`pid:\\s+${s.store.proc.pid}\\n`));
    expect(info.stdout).toMatch(/capacity:\s+32\.0 MiB/);
    expect(info.stdout).toContain(s.store.socketPath);
    const infoJson = JSON.parse((await cli("--json", "info")).stdout) as {
      pid: number;
      capacityBytes: number;
    };
    expect(infoJson).toMatchObject({ pid: s.store.proc.pid, capacityBytes: 32 * 1024 * 1024 });

    const stats = await cli("stats");
    expect(stats.code).toBe(0);
    expect(stats.stdout).toMatch(/objects sealed:\s+2 \(3\.0 MiB\)/);
    expect(stats.stdout).toMatch(/clients:\s+1\n/);
    const statsJson = JSON.parse((await cli("--json", "stats")).stdout) as { objectsSealed: number };
    expect(statsJson.objectsSealed).toBe(2);
  });

  test("ls with --state and --limit; show with metadata", async () => {
    const ls = await cli("ls");
    expect(ls.code).toBe(0);
    const lines = ls.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^ID\s+STATE\s+DATA\s+METADATA\s+REFS/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual([big.hex(), small.hex()]);
    expect(lines[1]).toMatch(/sealed\s+3\.0 MiB\s+8 B\s+0/);
    const limited = await cli("ls", "--limit", "1");
    expect(limited.stdout).toContain("(1 of 2 objects; --limit to see more)");
    const created = await cli("--json", "ls", "--state", "created");
    expect(JSON.parse(created.stdout)).toEqual({ objects: [], totalCount: 0 });
    const bySize = JSON.parse((await cli("--json", "ls", "--order", "size")).stdout) as {
      objects: { id: string }[];
    };
    expect(bySize.objects.map((o) => o.id)).toEqual([small.hex(), big.hex()]);
    expect((await cli("ls", "--state", "melted")).code).toBe(2);

    const show = await cli("show", small.hex());
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/data:\s+1\.5 KiB \(1500 bytes\)/);
    expect(show.stdout).toMatch(/metadata:\s+"small"/);
    const showJson = JSON.parse((await cli("--json", "show", big.hex())).stdout) as { metadata: string };
    expect(Buffer.from(showJson.metadata, "base64").toString()).toBe("big-meta");
    const missing = await cli("show", "1".repeat(40));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("NOT_FOUND");
    const bad = await cli("show", "xyz");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("INVALID_ARGUMENT");
  });

  test("cat ID > file writes the object's bytes", async () => {
    const dir = s.store.dir;
    const file = join(dir, "big.bin");
    const proc = Bun.spawn(
      ["bun", ADMIN_CLI, "--addr", s.grpc, "--socket", s.store.socketPath, "cat", big.hex()],
      {
        stdout: Bun.file(file),
        stderr: "pipe",
      },
    );
    expect(await proc.exited).toBe(0);
    const written = new Uint8Array(await Bun.file(file).arrayBuffer());
    expect(written.length).toBe(bigData.length);
    expect(Buffer.from(written).equals(Buffer.from(bigData))).toBe(true);
    const part = await cli("cat", small.hex(), "--offset", "100", "--length", "50");
    expect(Buffer.from(part.bytes).equals(Buffer.from(pattern(1500, 5).subarray(100, 150)))).toBe(true);
  });

  test("clients, policy, evict and rm", async () => {
    const clients = await cli("clients");
    expect(clients.code).toBe(0);
    const rows = clients.stdout.trim().split("\n");
    expect(rows[0]).toMatch(/^CLIENT\s+PID\s+UID\s+CONNECTED\s+OBJECTS\s+REFS\s+CREATED\s+PENDING GETS$/);
    expect(rows.length).toBe(2);
    expect(rows[1]).toMatch(/3\.0 MiB\s+0$/);

    expect((await cli("policy")).stdout).toContain("eviction policy: lru (available: lru, fifo, lfu, none)");
    const set = await cli("policy", "fifo");
    expect(set.stdout).toContain("eviction policy: lru -> fifo");
    expect((await s.admin.policy()).name).toBe("fifo");
    const badPolicy = await cli("policy", "random");
    expect(badPolicy.code).toBe(1);
    expect(badPolicy.stderr).toContain("INVALID_ARGUMENT");

    // FIFO evicts the first sealed object: big.
    const evict = await cli("evict", "1KiB");
    expect(evict.code).toBe(0);
    expect(evict.stdout).toContain("evicted 1 objects, 3.0 MiB");
    expect(evict.stdout).toContain(big.hex());
    expect(await s.client.contains(big)).toBe(false);

    const rm = await cli("rm", small.hex(), "2".repeat(40));
    expect(rm.code).toBe(1);
    expect(rm.stdout).toContain(`deleted ${small.hex()}`);
    expect(rm.stdout).toContain(`not found ${"2".repeat(40)}`);
    expect(await s.client.contains(small)).toBe(false);
  });

  test("watch prints events as they happen; top refreshes a summary", async () => {
    const watch = Bun.spawn(
      [
        "bun",
        ADMIN_CLI,
        "--addr",
        s.grpc,
        "--socket",
        s.store.socketPath,
        "watch",
        "--kinds",
        "object_sealed,object_deleted",
        "--count",
        "2",
      ],
      {
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    // Keep sealing and deleting objects until the watcher has seen two events and exited.
    const id = ObjectID.fromRandom();
    let exited = false;
    void watch.exited.then(() => {
      exited = true;
    });
    while (!exited) {
      await s.client.createAndSeal(id, pattern(10, 1));
      await s.client.delete(id);
      await Bun.sleep(50);
    }
    expect(await watch.exited).toBe(0);
    const lines = (await new Response(watch.stdout).text()).trim().split("\n");
    expect(lines.length).toBe(2);
    expect(lines[0]).toMatch(new RegExp(`#\\d+ object_(sealed|deleted) ${id.hex()}`));
    expect(lines[1]).toMatch(new RegExp(`#\\d+ object_(sealed|deleted) ${id.hex()}`));

    const top = await cli("top", "--count", "2", "--interval-ms", "100");
    expect(top.code).toBe(0);
    expect(top.stdout.match(/^plasma_store \d+\.\d+\.\d+ pid \d+/gm)?.length).toBe(2);
    expect(top.stdout).toContain("largest objects:");
    const topJson = (await cli("--json", "top", "--count", "1")).stdout.trim().split("\n");
    expect(topJson.length).toBe(1);
    expect(JSON.parse(topJson[0] as string)).toMatchObject({ clients: 1 });
  });

  test("usage errors exit 2; an unreachable store exits 1 with a hint", async () => {
    const none = await runAdminCli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("Usage: plasma-admin");
    expect((await cli("frobnicate")).code).toBe(2);
    expect((await cli("show")).code).toBe(2);
    const help = await runAdminCli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("cat ID > FILE");
    const down = await runAdminCli(["--addr", "127.0.0.1:1", "stats"]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("UNAVAILABLE");
  });
});
