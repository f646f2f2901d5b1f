/**
 * Spilling in the admin plane (issue 16): the spill figures of GetStats and /v1/stats, the Prometheus
 * spill metrics' values, `plasma-admin ls` / `stats`, and a small --spill-max whose drops are counted
 * and logged once per episode.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { type ObjectID as Id, ObjectID } from "../../src/client/index.ts";
import { runAdminCli } from "../admin/helpers.ts";
import { useAdminStore } from "../helpers/store-fixture.ts";
import { waitUntil } from "../helpers/wait.ts";
import { patternBytes, putObject, readBack, spillDir } from "./helpers.ts";

const KIB = 1024;
const DATA_BYTES = 300 * KIB;
const METADATA = new TextEncoder().encode("spill-meta");
const FILE_BYTES = 64 + DATA_BYTES + METADATA.length;
const DROP_LINE = "spilling impossible";

/** The value of the sample `name` (with its labels, exactly as printed) in Prometheus text. */
function sample(metrics: string, name: string): number {
  const line = metrics.split("\n").find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`no sample ${name} in:\n${metrics}`);
  return Number(line.slice(name.length + 1));
}

describe("spilling in the admin plane, with a disk budget of one object (--spill-max 400KiB)", () => {
  const dir = spillDir();
  const s = useAdminStore({ memory: "1MiB", args: ["--spill-dir", dir, "--spill-max", "400KiB"] });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const ids = Array.from({ length: 4 }, () => ObjectID.fromRandom());
  const [a, b, c, d] = ids as [Id, Id, Id, Id];
  const content = (id: Id) => patternBytes(DATA_BYTES, ids.indexOf(id) + 1);
  const cli = (...args: string[]) => runAdminCli(["--addr", s.grpc, "--socket", s.store.socketPath, ...args]);
  const dropLines = () =>
    s.store
      .output()
      .split("\n")
      .filter((l) => l.includes(DROP_LINE)).length;

  /** Puts the object, then evicts everything: it is spilled if its file fits the budget, else dropped. */
  async function putAndEvict(id: Id): Promise<void> {
    await putObject(s.client, id, content(id), METADATA);
    expect(await s.client.evict(1024 * KIB)).toBeGreaterThan(0);
  }

  async function spilledIds(): Promise<string[]> {
    return (await s.client.list()).filter((o) => o.state === "spilled").map((o) => o.id.hex());
  }

  beforeAll(async () => {
    // a: spilled. b, c: no room in the budget, dropped (one episode). a: restored by a get, then
    // spilled again (a spill succeeds: the episode ends). d: dropped (a second episode).
    await putAndEvict(a);
    await waitUntil("a is spilled", async () => (await spilledIds()).includes(a.hex()));
    await putAndEvict(b);
    expect(await s.client.contains(b)).toBe(false);
    await putAndEvict(c);
    expect(await s.client.contains(c)).toBe(false);
    expect(await readBack(s.client, a)).toEqual(content(a));
    expect(await s.client.evict(1024 * KIB)).toBeGreaterThan(0);
    await waitUntil("a is spilled again", async () => (await spilledIds()).includes(a.hex()));
    await putAndEvict(d);
    expect(await s.client.contains(d)).toBe(false);
    await s.store.waitForOutput(/spilling impossible[\s\S]*spilling impossible/);
  });

  test("drops are counted by reason and logged once per episode; the store keeps serving", async () => {
    expect(dropLines()).toBe(2);
    const line = s.store
      .output()
      .split("\n")
      .find((l) => l.includes(DROP_LINE)) as string;
    expect(JSON.parse(line)).toMatchObject({ reason: "budget", object: b.hex() });
    expect(await spilledIds()).toEqual([a.hex()]);
    expect(await readBack(s.client, a)).toEqual(content(a));
    await s.client.evict(1024 * KIB);
    await waitUntil("a is spilled again", async () => (await spilledIds()).includes(a.hex()));
  });

  test("GetStats and /v1/stats report spilled objects and bytes, the disk budget and used, restores, drops", async () => {
    const stats = await s.admin.stats();
    const expected = {
      spilledObjects: 1,
      spilledBytes: DATA_BYTES + METADATA.length,
      diskBudgetBytes: 400 * KIB,
      diskUsedBytes: FILE_BYTES,
      spillsInFlight: 0,
      restoresInFlight: 0,
      spills: 3,
      spilledBytesTotal: 3 * (DATA_BYTES + METADATA.length),
      restores: 2,
      restoredBytesTotal: 2 * (DATA_BYTES + METADATA.length),
      restoreFailures: 0,
      drops: { budget: 3, diskFull: 0, ioError: 0 },
    };
    expect(stats.spill).toEqual(expected);
    const http = await fetch(`http://${s.http}/v1/stats`, { headers: s.headers() });
    expect(http.status).toBe(200);
    expect(((await http.json()) as { spill: unknown }).spill).toEqual(expected);
  });

  test("Prometheus: spilled objects and bytes, budget used, spills, restores, their seconds, drops by reason", async () => {
    const m = await (await fetch(`http://${s.http}/metrics`, { headers: s.headers() })).text();
    expect(sample(m, "plasma_spilled_objects")).toBe(1);
    expect(sample(m, "plasma_spilled_bytes")).toBe(DATA_BYTES + METADATA.length);
    expect(sample(m, "plasma_spill_disk_used_bytes")).toBe(FILE_BYTES);
    expect(sample(m, "plasma_spill_disk_budget_bytes")).toBe(400 * KIB);
    expect(sample(m, "plasma_spills_in_flight")).toBe(0);
    expect(sample(m, "plasma_restores_in_flight")).toBe(0);
    expect(sample(m, "plasma_spills_total")).toBe(3);
    expect(sample(m, "plasma_spilled_bytes_total")).toBe(3 * (DATA_BYTES + METADATA.length));
    expect(sample(m, "plasma_restores_total")).toBe(2);
    expect(sample(m, "plasma_restored_bytes_total")).toBe(2 * (DATA_BYTES + METADATA.length));
    expect(sample(m, "plasma_restore_failures_total")).toBe(0);
    expect(sample(m, "plasma_spill_seconds_total")).toBeGreaterThan(0);
    expect(sample(m, "plasma_restore_seconds_total")).toBeGreaterThan(0);
    expect(sample(m, 'plasma_spill_drops_total{reason="budget"}')).toBe(3);
    expect(sample(m, 'plasma_spill_drops_total{reason="disk-full"}')).toBe(0);
    expect(sample(m, 'plasma_spill_drops_total{reason="io-error"}')).toBe(0);
  });

  test("plasma-admin ls prints the state spilled, and stats the spill lines", async () => {
    const ls = await cli("ls");
    expect(ls.code).toBe(0);
    const row = ls.stdout.split("\n").find((l) => l.startsWith(a.hex()));
    expect(row).toMatch(/^[0-9a-f]{40}\s+spilled\s+300 KiB\s+10 B/);
    const only = await cli("ls", "--state", "spilled");
    expect(only.stdout.trim().split("\n").slice(1)).toHaveLength(1);
    const stats = await cli("stats");
    expect(stats.code).toBe(0);
    expect(stats.stdout).toMatch(/spilled:\s+1 \(300 KiB\)/);
    expect(stats.stdout).toMatch(/spill disk:\s+300 KiB of 400 KiB/);
    expect(stats.stdout).toMatch(/spill drops:\s+3 budget, 0 disk full, 0 I\/O error/);
  });
});

describe("without spilling", () => {
  const s = useAdminStore({ memory: "1MiB" });

  test("GetStats and /v1/stats have no spill figures", async () => {
    expect((await s.admin.stats()).spill).toBeNull();
    const http = await fetch(`http://${s.http}/v1/stats`, { headers: s.headers() });
    expect(((await http.json()) as { spill: unknown }).spill).toBeNull();
  });
});
