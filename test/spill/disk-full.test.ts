/**
 * A spill directory on a disk that fills up (issue 16): a 512 KiB tmpfs under a budget far larger than it.
 * A write that fails (ENOSPC) loses nothing that was in memory; victims are then dropped (reason
 * disk-full), counted and logged once per episode, and the store keeps serving. Needs root (mount): without
 * it the tests are skipped outside CI and an error under CI=true.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { connect, type ObjectID as Id, ObjectID, type PlasmaClient } from "../../src/client/index.ts";
import { type AdminStore, startAdminStore } from "../helpers/admin-store.ts";
import { mount, mountProblem, unmount } from "../helpers/mounts.ts";
import { prerequisite, rootProblem } from "../helpers/prerequisites.ts";
import { tempDir } from "../helpers/store-process.ts";
import { waitUntil } from "../helpers/wait.ts";
import { patternBytes, putObject, readBack } from "./helpers.ts";

const KIB = 1024;
const DATA_BYTES = 300 * KIB;
const TMPFS_ARGS = ["-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs"];
const DROP_LINE = "spilling impossible";
const FAILED_LINE = "spill write failed";
const hasTmpfs = prerequisite("mounting a tmpfs (root)", rootProblem() ?? mountProblem(TMPFS_ARGS));

const countLines = (output: string, text: string) =>
  output.split("\n").filter((l) => l.includes(text)).length;

describe.skipIf(!hasTmpfs)("spilling onto a full disk (a 512 KiB tmpfs, --spill-max 64MiB)", () => {
  let work = "";
  let dir = "";
  let s: AdminStore;
  let client: PlasmaClient;
  const ids = Array.from({ length: 12 }, () => ObjectID.fromRandom());
  const [a, b] = ids as [Id, Id];
  const content = (id: Id) => patternBytes(DATA_BYTES, ids.indexOf(id) + 1);
  const spillStats = async () => {
    const spill = (await s.admin.stats()).spill;
    if (spill === null) throw new Error("the store does not spill");
    return spill;
  };
  const noSpillInFlight = async () => (await spillStats()).spillsInFlight === 0;

  beforeAll(async () => {
    work = tempDir("plasma-spill-full-");
    dir = join(work, "spill");
    const problem = mount(TMPFS_ARGS, dir);
    if (problem !== null) throw new Error(problem);
    s = await startAdminStore({ memory: "2MiB", args: ["--spill-dir", dir, "--spill-max", "64MiB"] });
    client = await connect(s.store.socketPath);
  });
  afterAll(async () => {
    await client?.disconnect();
    s?.admin.close();
    if (s !== undefined) expect(await s.store.stop()).toBe(0);
    if (dir !== "") unmount(dir);
    if (work !== "") rmSync(work, { recursive: true, force: true });
  });

  test("a failed write keeps the object in memory, readable; later victims are dropped and counted", async () => {
    // a fits on the tmpfs; b's file does not (ENOSPC), so b stays in memory.
    await putObject(client, a, content(a), new Uint8Array(0));
    await client.evict(1024 * KIB);
    await waitUntil("a is spilled", async () => (await spillStats()).spilledObjects === 1);
    await putObject(client, b, content(b), new Uint8Array(0));
    expect(await client.evict(1024 * KIB)).toBeGreaterThan(0);
    await s.store.waitForOutput(/spill write failed/);
    await waitUntil("no spill in flight", noSpillInFlight);
    const failed = JSON.parse(
      s.store
        .output()
        .split("\n")
        .find((l) => l.includes(FAILED_LINE)) as string,
    ) as { object: string; code: string };
    expect(failed).toMatchObject({ object: b.hex(), code: "SPILL_DISK_FULL" });
    expect(readdirSync(dir).filter((name) => name.endsWith(".tmp"))).toEqual([]);
    // b stays readable, byte-identical, until the policy drops it: each evict either retries its
    // spill (which fails again: b stays) or, while spilling pauses after the failure, drops it.
    while (await client.contains(b)) {
      expect(await readBack(client, b)).toEqual(content(b));
      await client.evict(1024 * KIB);
      await waitUntil("no spill in flight", noSpillInFlight);
    }
    expect((await spillStats()).drops.diskFull).toBe(1);
  });

  test("the store keeps serving: creates that need room drop victims (one log line per episode)", async () => {
    const rest = ids.slice(2);
    for (const id of rest) await client.createAndSeal(id, content(id));
    const present = [];
    for (const id of rest) if (await client.contains(id)) present.push(id);
    expect(present.length).toBeGreaterThan(0);
    for (const id of present) expect(await readBack(client, id)).toEqual(content(id));
    const spill = await spillStats();
    expect(spill.drops).toEqual({ budget: 0, diskFull: rest.length + 1 - present.length, ioError: 0 });
    expect(spill.spilledObjects).toBe(1);
    expect(countLines(s.store.output(), DROP_LINE)).toBe(1);
    const dropLine = s.store
      .output()
      .split("\n")
      .find((l) => l.includes(DROP_LINE)) as string;
    expect(JSON.parse(dropLine)).toMatchObject({ reason: "disk-full", object: b.hex() });
    const m = await (await fetch(`http://${s.http}/metrics`, { headers: s.headers() })).text();
    expect(m).toContain(`plasma_spill_drops_total{reason="disk-full"} ${spill.drops.diskFull}\n`);
    // The object spilled before the disk filled up comes back byte-identical.
    expect(await readBack(client, a)).toEqual(content(a));
  });
});
