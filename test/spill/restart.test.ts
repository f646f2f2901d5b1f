/** Spill files across restarts, through the CLI (issue 16): adoption, --spill-on-stop, quarantine, SIGKILL, fuzz. */
import { afterAll, describe, expect, test } from "bun:test";
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { connect, ObjectID, type PlasmaClient } from "../../src/client/index.ts";
import { STORE_CLI } from "../helpers/daemon.ts";
import { runCommand } from "../helpers/run.ts";
import { startStoreProcess } from "../helpers/store-process.ts";
import { waitUntil } from "../helpers/wait.ts";
import { patternBytes, putObject, readBack, spillDir } from "./helpers.ts";

const KIB = 1024;

async function withStore<T>(
  args: string[],
  body: (client: PlasmaClient, output: () => string) => Promise<T>,
) {
  const store = await startStoreProcess({ memory: "2MiB", args });
  const client = await connect(store.socketPath);
  try {
    return await body(client, () => store.output());
  } finally {
    await client.disconnect();
    expect(await store.stop()).toBe(0);
  }
}

async function spilledCount(client: PlasmaClient): Promise<number> {
  return (await client.list()).filter((o) => o.state === "spilled").length;
}

describe("restart with the same --spill-dir", () => {
  const dir = spillDir();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const ids = Array.from({ length: 4 }, () => ObjectID.fromRandom());
  const contents = ids.map((_, i) => patternBytes(200 * KIB + i, 100 + i));

  test("spilled objects are there after a restart, byte-identical; a truncated file and a flipped byte are quarantined", async () => {
    await withStore(["--spill-dir", dir], async (client) => {
      for (const [i, id] of ids.entries())
        await putObject(client, id, contents[i] as Uint8Array, new Uint8Array(0));
      await client.evict(8 * 1024 * KIB);
      await waitUntil("all four are spilled", async () => (await spilledCount(client)) === 4);
    });
    truncateSync(join(dir, `${(ids[2] as ObjectID).hex()}.spill`), 1000);
    const flipped = join(dir, `${(ids[3] as ObjectID).hex()}.spill`);
    const fd = openSync(flipped, "r+");
    writeSync(fd, new Uint8Array([(readFileSync(flipped)[5000] as number) ^ 0xff]), 0, 1, 5000);
    closeSync(fd);
    await withStore(["--spill-dir", dir], async (client, output) => {
      expect(await spilledCount(client)).toBe(2);
      for (const i of [0, 1])
        expect(await readBack(client, ids[i] as ObjectID)).toEqual(contents[i] as Uint8Array);
      for (const i of [2, 3]) expect(await client.contains(ids[i] as ObjectID)).toBe(false);
      expect(output()).toContain("spill file quarantined");
    });
    expect(readdirSync(join(dir, "quarantine")).sort()).toEqual(
      [`${(ids[2] as ObjectID).hex()}.spill`, `${(ids[3] as ObjectID).hex()}.spill`].sort(),
    );
  });

  test("with --spill-on-stop every sealed object is there after a restart", async () => {
    const fresh = spillDir();
    try {
      await withStore(["--spill-dir", fresh, "--spill-on-stop"], async (client) => {
        for (const [i, id] of ids.entries())
          await putObject(client, id, contents[i] as Uint8Array, new Uint8Array(0));
      });
      await withStore(["--spill-dir", fresh], async (client, output) => {
        expect(await spilledCount(client)).toBe(4);
        for (const [i, id] of ids.entries())
          expect(await readBack(client, id)).toEqual(contents[i] as Uint8Array);
        expect(output()).toContain('"adopted":4');
      });
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });
});

describe("SIGKILL during spills", () => {
  const dir = spillDir();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // A memory store loses its memory with its process: what "loses nothing" can mean across a SIGKILL is
  // that no object comes back corrupt or partial. Each object is absent (its spill was not durable yet)
  // or present and byte-identical; and every object whose spill had completed is present.
  test("after a restart each object is either absent or byte-identical, and every completed spill is there", async () => {
    const ids = Array.from({ length: 12 }, () => ObjectID.fromRandom());
    const contents = ids.map((_, i) => patternBytes(150 * KIB, 500 + i));
    const store = await startStoreProcess({ memory: "4MiB", args: ["--spill-dir", dir] });
    const client = await connect(store.socketPath);
    let durable: string[] = [];
    try {
      for (const [i, id] of ids.entries())
        await putObject(client, id, contents[i] as Uint8Array, new Uint8Array(0));
      await client.evict(4 * 1024 * KIB);
      await waitUntil("a spill completed", async () => (await spilledCount(client)) > 0);
      durable = (await client.list()).filter((o) => o.state === "spilled").map((o) => o.id.hex());
    } finally {
      store.proc.kill("SIGKILL");
      await store.proc.exited;
      await client.disconnect().catch(() => {});
      rmSync(store.dir, { recursive: true, force: true });
    }
    rmSync(join(dir, "LOCK"), { force: true });
    await withStore(["--spill-dir", dir], async (client) => {
      let present = 0;
      for (const [i, id] of ids.entries()) {
        if (!(await client.contains(id))) continue;
        present++;
        expect(await readBack(client, id)).toEqual(contents[i] as Uint8Array);
      }
      for (const hex of durable) expect(await client.contains(ObjectID.fromHex(hex))).toBe(true);
      expect(present).toBeGreaterThanOrEqual(durable.length);
    });
  });
});

describe("the spill directory at start-up", () => {
  test("random files, wrong sizes and symlinks pointing elsewhere are refused, never served", async () => {
    const dir = spillDir();
    const outside = join(spillDir(), "target");
    writeFileSync(outside, patternBytes(4096, 9));
    try {
      const hexes: string[] = [];
      for (let i = 0; i < 20; i++) {
        const hex = ObjectID.fromRandom().hex();
        hexes.push(hex);
        const bytes = patternBytes(i * 37 + (i % 3 === 0 ? 0 : 64), 1000 + i);
        if (i % 5 === 4) symlinkSync(outside, join(dir, `${hex}.spill`));
        else writeFileSync(join(dir, `${hex}.spill`), bytes);
      }
      writeFileSync(join(dir, "notes.txt"), "not ours");
      await withStore(["--spill-dir", dir], async (client, output) => {
        expect(await client.list()).toEqual([]);
        for (const hex of hexes) expect(await client.contains(ObjectID.fromHex(hex))).toBe(false);
        expect(output()).toContain("spill file quarantined");
      });
      expect(readdirSync(join(dir, "quarantine")).length).toBe(20);
      expect(statSync(outside).size).toBe(4096);
      expect(readFileSync(join(dir, "notes.txt"), "utf8")).toBe("not ours");
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(join(outside, ".."), { recursive: true, force: true });
    }
  });

  test("a second store on the same directory, a file as directory and another -e scheme are refused", async () => {
    const dir = spillDir();
    try {
      await withStore(["--spill-dir", dir], async () => {
        const second = await runCommand([
          "bun",
          STORE_CLI,
          "-s",
          join(dir, "other.sock"),
          "-m",
          "1MiB",
          "--spill-dir",
          dir,
        ]);
        expect(second.code).toBe(1);
        expect(second.stderr).toMatch(/lock|another|pid/i);
      });
      writeFileSync(join(dir, "a-file"), "x");
      const notDir = await runCommand([
        "bun",
        STORE_CLI,
        "-s",
        join(dir, "x.sock"),
        "-m",
        "1MiB",
        "-e",
        `file://${join(dir, "a-file")}`,
      ]);
      expect(notDir.code).toBe(1);
      expect(notDir.stderr).toContain("Cannot create the spill directory");
      const scheme = await runCommand(["bun", STORE_CLI, "-m", "1MiB", "-e", "hashtable://test"]);
      expect(scheme.code).toBe(2);
      expect(scheme.stderr).toContain("the hashtable:// external store is not supported");
      expect(existsSync(join(dir, "LOCK"))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
