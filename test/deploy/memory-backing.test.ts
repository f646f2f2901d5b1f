// Start-up checks and memory backing, against real mounts: a small tmpfs (the Docker 64 MB /dev/shm case),
// hugetlbfs with pages reserved here, and too few huge pages. Needs root (mount, nr_hugepages); skipped
// with a printed reason otherwise.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startStore } from "../../src/daemon/index.ts";
import { silentLogger } from "../../src/log.ts";
import { runCommand, startLine } from "../helpers/run.ts";
import { runClientProcess, startStoreProcess, tempDir } from "../helpers/store-process.ts";

const CLI = join(import.meta.dir, "../../src/daemon/cli.ts");
const PUT_GET = join(import.meta.dir, "../../examples/put-get.ts");
const MiB = 1024 * 1024;
/** No admin plane in these tests: nothing to collide with on the default ports. */
const NO_ADMIN = { PLASMA_ADMIN_GRPC: "off", PLASMA_ADMIN_HTTP: "off" };

function runCli(args: string[]) {
  return runCommand(["bun", CLI, ...args], { env: { ...NO_ADMIN, PLASMA_LOG_LEVEL: "info" } });
}
const NR_HUGEPAGES = "/proc/sys/vm/nr_hugepages";

const work = tempDir("plasma-backing-");
const mounts: string[] = [];

function mount(args: string[], where: string): string | null {
  mkdirSync(where, { recursive: true });
  const r = spawnSync("mount", [...args, where], { encoding: "utf8" });
  if (r.status !== 0) return `mount ${args.join(" ")} failed: ${r.stderr || r.error?.message}`;
  mounts.push(where);
  return null;
}

const smallShm = join(work, "small-shm");
const tmpfsProblem =
  process.getuid?.() !== 0 ? "not root" : mount(["-t", "tmpfs", "-o", "size=16m", "tmpfs"], smallShm);
if (tmpfsProblem !== null) console.warn(`skipping the tmpfs tests: ${tmpfsProblem}`);

afterAll(() => {
  for (const where of mounts.reverse()) spawnSync("umount", [where]);
  spawnSync("rm", ["-rf", work]);
});

function usedBytes(path: string): number {
  const s = statfsSync(path);
  return (s.blocks - s.bfree) * s.bsize;
}

describe.skipIf(tmpfsProblem !== null)("-d on a small tmpfs (a container's /dev/shm)", () => {
  test("a store larger than the mount refuses to start and names --shm-size and a smaller -m", async () => {
    const socket = join(work, "too-big.sock");
    const { stderr, code } = await runCli(["-m", "64MiB", "-d", smallShm, "-s", socket]);
    expect(code).toBe(1);
    expect(stderr).toContain(`-d ${smallShm} has 16MiB free`);
    expect(stderr).toContain("the arena needs 64MiB");
    expect(stderr).toContain("--shm-size");
    expect(stderr).toContain("lower -m to at most 16777216 bytes");
    expect(existsSync(socket)).toBe(false);
    expect(usedBytes(smallShm)).toBe(0);
  });

  test("the arena is reserved at start: filling the mount afterwards cannot SIGBUS a client", async () => {
    const store = await startStoreProcess({ memory: "10MiB", args: ["-d", smallShm], env: NO_ADMIN });
    const filler = join(smallShm, "filler");
    try {
      expect(startLine(store.output())).toMatchObject({
        backing: "file",
        arenaBytes: 10 * MiB,
        reservedBytes: 10 * MiB,
      });
      expect(usedBytes(smallShm)).toBeGreaterThanOrEqual(10 * MiB);
      // Someone else fills what is left of the mount.
      expect(() => writeFileSync(filler, new Uint8Array(8 * MiB))).toThrow(/ENOSPC|no space/i);
      expect(statfsSync(smallShm).bavail).toBe(0);
      // A client still writes every page of a 9 MiB object (without the reservation: SIGBUS).
      const result = await runClientProcess(PUT_GET, [store.socketPath, String(9 * MiB)]);
      expect(result.stderr).not.toContain("error");
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ ok: true, sizeBytes: 9 * MiB });
    } finally {
      expect(await store.stop()).toBe(0);
      spawnSync("rm", ["-f", filler]);
    }
    // The unlinked arena file is gone with the store.
    expect(usedBytes(smallShm)).toBe(0);
  });

  test("--prefault faults the whole arena in before the store accepts clients", async () => {
    const store = await startStoreProcess({
      memory: "8MiB",
      args: ["-d", smallShm, "--prefault"],
      env: NO_ADMIN,
    });
    try {
      const out = store.output();
      const prefaulted = out.split("\n").find((l) => l.includes('"arena prefaulted"'));
      expect(JSON.parse(prefaulted as string)).toMatchObject({ faultedBytes: 8 * MiB });
      expect(out.indexOf("arena prefaulted")).toBeLessThan(out.indexOf("plasma_store started"));
      expect(startLine(out)).toMatchObject({ prefaulted: true, reservedBytes: 8 * MiB });
    } finally {
      expect(await store.stop()).toBe(0);
    }
  });
});

describe("memory accounting (startStore handle)", () => {
  test("faulted bytes: none at start, the object's pages after a client writes, all with prefault", async () => {
    const dir = tempDir();
    try {
      const plain = await startStore({
        memoryBytes: 16 * MiB,
        socketPath: join(dir, "a.sock"),
        logger: silentLogger,
      });
      try {
        const before = plain.memoryAccounting();
        expect(before).toMatchObject({
          backing: "memfd",
          directory: null,
          hugePages: false,
          pageSizeBytes: 4096,
          arenaBytes: 16 * MiB,
          reservedBytes: 0,
          prefaulted: false,
        });
        expect(before.faultedBytes).toBe(0);
        const result = await runClientProcess(PUT_GET, [plain.socketPath, String(4 * MiB)]);
        expect(result.code).toBe(0);
        const after = plain.memoryAccounting().faultedBytes;
        expect(after).toBeGreaterThanOrEqual(4 * MiB);
        expect(after).toBeLessThan(16 * MiB);
      } finally {
        await plain.stop();
      }
      const warm = await startStore({
        memoryBytes: 16 * MiB,
        socketPath: join(dir, "b.sock"),
        prefault: true,
        logger: silentLogger,
      });
      try {
        expect(warm.memoryAccounting()).toMatchObject({ faultedBytes: 16 * MiB, prefaulted: true });
      } finally {
        await warm.stop();
      }
    } finally {
      spawnSync("rm", ["-rf", dir]);
    }
  });
});

// ------------------------------------------------------------------ huge pages

const HUGE = 2 * MiB;
const RESERVE_PAGES = 6;

function meminfo(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(readFileSync("/proc/meminfo", "utf8"));
  return Number(m?.[1] ?? Number.NaN);
}

function availableHugePages(): number {
  return meminfo("HugePages_Free") - meminfo("HugePages_Rsvd");
}

/** Adds pages to the pool (others may reserve some at the same time: never set absolute numbers). */
function addHugePages(delta: number): void {
  const now = Number(readFileSync(NR_HUGEPAGES, "utf8"));
  writeFileSync(NR_HUGEPAGES, String(Math.max(0, now + delta)));
}

const hugeMount = join(work, "huge");
let addedPages = 0;
let hugeProblem: string | null = null;
if (process.getuid?.() !== 0) hugeProblem = "not root";
else if (!existsSync(NR_HUGEPAGES)) hugeProblem = "the kernel has no huge pages";
else hugeProblem = mount(["-t", "hugetlbfs", "-o", "pagesize=2M", "none"], hugeMount);
if (hugeProblem !== null) console.warn(`skipping the huge page tests: ${hugeProblem}`);

describe.skipIf(hugeProblem !== null)("-h: huge pages", () => {
  beforeAll(() => {
    const free = availableHugePages();
    addHugePages(RESERVE_PAGES);
    addedPages = RESERVE_PAGES;
    // The kernel may find fewer contiguous 2 MiB pages than asked for.
    if (availableHugePages() < free + 4) {
      throw new Error(`asked for ${RESERVE_PAGES} more huge pages, got ${availableHugePages() - free}`);
    }
  });
  afterAll(() => {
    if (addedPages > 0) addHugePages(-addedPages);
  });

  test("too few free huge pages: refuses to start and says what to write to nr_hugepages", async () => {
    const available = availableHugePages();
    const pages = available + 64;
    const socket = join(work, "few.sock");
    const { stderr, code } = await runCli(["-m", String(pages * HUGE), "-h", "-s", socket]);
    expect(code).toBe(1);
    expect(stderr).toContain(`needs ${pages} free 2MiB huge pages`);
    expect(stderr).toMatch(/> \/proc\/sys\/vm\/nr_hugepages/);
    expect(stderr).toContain("sysctl -w vm.nr_hugepages=");
    expect(existsSync(socket)).toBe(false);
    // The same on a hugetlbfs mount.
    const onMount = await runCli(["-m", String(pages * HUGE), "-h", "-d", hugeMount, "-s", socket]);
    expect(onMount.code).toBe(1);
    expect(onMount.stderr).toContain(`-h (${hugeMount}) needs ${pages} free 2MiB huge pages`);
  });

  test("-h with -d on a directory that is not hugetlbfs explains the mount command", async () => {
    const plainDir = join(work, "not-huge");
    mkdirSync(plainDir, { recursive: true });
    const { stderr, code } = await runCli(["-m", "4MiB", "-h", "-d", plainDir, "-s", join(work, "nh.sock")]);
    expect(code).toBe(1);
    expect(stderr).toContain(`mount -t hugetlbfs -o pagesize=2M none ${plainDir}`);
  });

  test("-h -d on a hugetlbfs mount: capacity rounded up to 2 MiB pages, reserved, put and get work", async () => {
    const store = await startStoreProcess({
      memory: String(3 * MiB),
      args: ["-h", "-d", hugeMount, "--prefault"],
      env: NO_ADMIN,
    });
    try {
      expect(startLine(store.output())).toMatchObject({
        backing: "hugetlbfs",
        hugePages: true,
        pageSizeBytes: HUGE,
        arenaBytes: 4 * MiB,
        reservedBytes: 4 * MiB,
        prefaulted: true,
      });
      const result = await runClientProcess(PUT_GET, [store.socketPath, String(2 * MiB)]);
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ ok: true });
    } finally {
      expect(await store.stop()).toBe(0);
    }
  });

  test("-h without -d (memfd MFD_HUGETLB) reserves its pages at start and serves clients", async () => {
    const store = await startStoreProcess({ memory: String(4 * MiB), args: ["-h"], env: NO_ADMIN });
    try {
      expect(startLine(store.output())).toMatchObject({
        backing: "memfd",
        hugePages: true,
        pageSizeBytes: HUGE,
        arenaBytes: 4 * MiB,
        reservedBytes: 4 * MiB,
      });
      const result = await runClientProcess(PUT_GET, [store.socketPath, String(3 * MiB)], {
        env: { PLASMA_CLIENT_POPULATE: "1" },
      });
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ ok: true });
    } finally {
      expect(await store.stop()).toBe(0);
    }
  });
});
