// Start-up checks and memory backing, against real mounts: a small tmpfs (the Docker 64 MB /dev/shm case),
// hugetlbfs with pages reserved here, and too few huge pages. Needs root (mount, nr_hugepages): without it
// the tests are skipped outside CI and an error under CI=true. Mounts and huge pages are set up before the
// tests of their group and undone after them, so a run that filters them out changes nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hugePagePool, SYSTEM_PAGE_SIZE } from "../../src/ffi/memory.ts";
import { silentLogger } from "../../src/log.ts";
import { startStore } from "../helpers/daemon.ts";
import { hugePagesProblem, useHugePages } from "../helpers/huge-pages.ts";
import { mount, mountProblem, unmount } from "../helpers/mounts.ts";
import { prerequisite, rootProblem } from "../helpers/prerequisites.ts";
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

const TMPFS_ARGS = ["-t", "tmpfs", "-o", "size=16m", "tmpfs"];
const HUGETLBFS_ARGS = ["-t", "hugetlbfs", "-o", "pagesize=2M", "none"];
const hasTmpfs = prerequisite("mounting a tmpfs (root)", rootProblem() ?? mountProblem(TMPFS_ARGS));
const hasHugePages = prerequisite(
  "2 MiB huge pages and a hugetlbfs mount (root)",
  hugePagesProblem() ?? mountProblem(HUGETLBFS_ARGS),
);

let work = "";
beforeAll(() => {
  work = tempDir("plasma-backing-");
});
afterAll(() => {
  spawnSync("rm", ["-rf", work]);
});

/** Mounts `args` on `<work>/<name>` before the tests of the calling scope, unmounts after them. */
function useMount(args: string[], name: string): () => string {
  let where = "";
  beforeAll(() => {
    where = join(work, name);
    const problem = mount(args, where);
    if (problem !== null) throw new Error(problem);
  });
  afterAll(() => {
    if (where !== "") unmount(where);
  });
  return () => where;
}

function usedBytes(path: string): number {
  const s = statfsSync(path);
  return (s.blocks - s.bfree) * s.bsize;
}

describe.skipIf(!hasTmpfs)("-d on a small tmpfs (a container's /dev/shm)", () => {
  const mounted = useMount(TMPFS_ARGS, "small-shm");
  let smallShm = "";
  beforeAll(() => {
    smallShm = mounted();
  });

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
        capacityBytes: 16 * MiB,
        socketPath: join(dir, "a.sock"),
        logger: silentLogger,
      });
      try {
        const before = plain.memoryAccounting();
        expect(before).toMatchObject({
          backing: "memfd",
          directory: null,
          hugePages: false,
          pageSizeBytes: SYSTEM_PAGE_SIZE,
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
        capacityBytes: 16 * MiB,
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

/** Huge pages free and not promised to a mapping: what a new -h store can reserve. */
function availableHugePages(): number {
  return hugePagePool()?.availablePages ?? 0;
}

describe.skipIf(!hasHugePages)("-h: huge pages", () => {
  useHugePages(RESERVE_PAGES);
  const mounted = useMount(HUGETLBFS_ARGS, "huge");
  let hugeMount = "";
  beforeAll(() => {
    hugeMount = mounted();
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
