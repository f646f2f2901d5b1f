import { expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { connect, ObjectID } from "../../src/client/index.ts";
import { tempDir } from "../helpers/store-process.ts";
import { systemPageSizeBytes } from "../helpers/system.ts";
import { type AdminStore, startAdminStore } from "./helpers.ts";

const MiB = 1024 * 1024;

async function metric(s: AdminStore, name: string): Promise<number> {
  const text = await (await fetch(`http://${s.http}/metrics`, { headers: s.headers() })).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`no ${name} in /metrics`);
  return Number(line.split(" ")[1]);
}

test("the admin plane shows backing, page size, reserved and faulted bytes of the arena", async () => {
  const dir = tempDir("plasma-accounting-");
  const s = await startAdminStore({ memory: "8MiB", args: ["-d", dir] });
  try {
    const before = await s.admin.info();
    expect(before).toMatchObject({
      backing: "file",
      backingPath: dir,
      pageSizeBytes: systemPageSizeBytes(),
      prefaulted: false,
    });
    expect(before.reservedBytes).toBe(8 * MiB);
    expect(before.faultedBytes).toBeLessThan(MiB);
    expect(await metric(s, "plasma_arena_reserved_bytes")).toBe(8 * MiB);

    const client = await connect(s.store.socketPath);
    const id = ObjectID.fromRandom();
    const buffer = await client.create(id, 4 * MiB);
    buffer.fill(1);
    await client.seal(id);
    const after = await s.admin.info();
    expect(after.faultedBytes).toBeGreaterThanOrEqual(4 * MiB);
    expect(await metric(s, "plasma_arena_faulted_bytes")).toBeGreaterThanOrEqual(4 * MiB);
    const http = (await (await fetch(`http://${s.http}/v1/info`, { headers: s.headers() })).json()) as {
      faultedBytes: number;
      reservedBytes: number;
    };
    expect(http.reservedBytes).toBe(8 * MiB);
    expect(http.faultedBytes).toBeGreaterThanOrEqual(4 * MiB);
    await client.release(id);
    expect((buffer.buffer as ArrayBuffer).detached).toBe(true); // seal() detached the creator's buffer
    await client.disconnect();
  } finally {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--prefault shows the whole arena faulted in", async () => {
  const s = await startAdminStore({ memory: "4MiB", args: ["--prefault"] });
  try {
    const info = await s.admin.info();
    expect(info.prefaulted).toBe(true);
    expect(info.faultedBytes).toBe(info.arenaBytes);
  } finally {
    await s.stop();
  }
});
