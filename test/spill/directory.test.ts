import { afterAll, describe, expect, test } from "bun:test";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { filesystemFreeBytes } from "../../src/ffi/statfs.ts";
import { defaultSpillBudgetBytes, openSpillDirectory } from "../../src/spill/directory.ts";
import { SpillDirectoryError, SpillDirectoryLockedError } from "../../src/spill/errors.ts";
import { SPILL_HEADER_BYTES, spillFileName, xxh64 } from "../../src/spill/format.ts";
import { scanSpillDirectory } from "../../src/spill/scan.ts";
import { mount, mountProblem, unmount } from "../helpers/mounts.ts";
import { prerequisite, rootProblem } from "../helpers/prerequisites.ts";
import { captureLog, idOf, patternBytes, spillFileBytesFor, writeSpillFile } from "./helpers.ts";

const dirs: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "plasma-spill-dir-"));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const hex = (id: Uint8Array) => Buffer.from(id).toString("hex");

describe("opening a spill directory", () => {
  test("creates a missing directory, takes LOCK with our pid, releases it on close", () => {
    const dir = join(freshDir(), "a", "b");
    const { logger } = captureLog();
    const spill = openSpillDirectory(dir, { logger });
    expect(lstatSync(dir).isDirectory()).toBe(true);
    expect(readFileSync(join(dir, "LOCK"), "utf8")).toBe(`${process.pid}\n`);
    expect(spill.scan.entries).toEqual([]);
    spill.close();
    expect(existsSync(join(dir, "LOCK"))).toBe(false);
  });

  test("a second opener is refused while the first holds the lock; then it may open", () => {
    const dir = freshDir();
    const { logger } = captureLog();
    const first = openSpillDirectory(dir, { logger });
    const error = (() => {
      try {
        openSpillDirectory(dir, { logger });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(SpillDirectoryLockedError);
    expect((error as SpillDirectoryLockedError).code).toBe("SPILL_DIRECTORY_LOCKED");
    expect((error as SpillDirectoryLockedError).ownerPid).toBe(process.pid);
    expect((error as Error).message).toContain("--spill-dir");
    first.close();
    openSpillDirectory(dir, { logger }).close();
  });

  test("a lock held by another live process is refused", async () => {
    const dir = freshDir();
    const sleeper = Bun.spawn(["sleep", "60"]);
    try {
      writeFileSync(join(dir, "LOCK"), `${sleeper.pid}\n`);
      const { logger } = captureLog();
      expect(() => openSpillDirectory(dir, { logger })).toThrow(SpillDirectoryLockedError);
      expect(readFileSync(join(dir, "LOCK"), "utf8")).toBe(`${sleeper.pid}\n`);
    } finally {
      sleeper.kill();
      await sleeper.exited;
    }
  });

  test("a stale lock (dead pid, or no pid) is taken over with a log line", async () => {
    const dead = Bun.spawn(["true"]);
    await dead.exited;
    for (const content of [`${dead.pid}\n`, "", "garbage"]) {
      const dir = freshDir();
      writeFileSync(join(dir, "LOCK"), content);
      const { logger, lines } = captureLog();
      const spill = openSpillDirectory(dir, { logger });
      expect(readFileSync(join(dir, "LOCK"), "utf8")).toBe(`${process.pid}\n`);
      const line = lines.find((l) => l.msg === "taking over a stale spill directory lock");
      expect(line?.stalePid).toBe(content === "" || content === "garbage" ? null : dead.pid);
      spill.close();
    }
  });

  test("a path that is a file is refused with a clear message", () => {
    const file = join(freshDir(), "not-a-dir");
    writeFileSync(file, "x");
    const { logger } = captureLog();
    expect(() => openSpillDirectory(file, { logger })).toThrow(SpillDirectoryError);
    expect(() => openSpillDirectory(join(file, "below"), { logger })).toThrow(
      /Cannot create the spill directory/,
    );
  });

  test("the default budget is the free space minus 5%", () => {
    const dir = freshDir();
    const free = filesystemFreeBytes(dir).freeBytes;
    const budget = defaultSpillBudgetBytes(dir);
    // Other writers share the disk: the budget lies within 5% ± 1% of what statfs said just before.
    expect(budget).toBeLessThanOrEqual(Math.floor(free * 0.96));
    expect(budget).toBeGreaterThanOrEqual(Math.floor(free * 0.94));
  });
});

const RO_TMPFS_ARGS = ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs"];
const canMount = prerequisite(
  "mounting a read-only tmpfs (root)",
  rootProblem() ?? mountProblem(RO_TMPFS_ARGS),
);

describe.skipIf(!canMount)("a directory the store cannot write", () => {
  test("is refused with SpillDirectoryError saying it is not writable", () => {
    const where = freshDir();
    expect(mount(RO_TMPFS_ARGS, where)).toBeNull();
    try {
      const { logger } = captureLog();
      expect(() => openSpillDirectory(where, { logger })).toThrow(/is not writable/);
      expect(() => openSpillDirectory(where, { logger })).toThrow(SpillDirectoryError);
    } finally {
      unmount(where);
    }
  });
});

describe("the start-up scan", () => {
  test("intact files are entries; every corruption is quarantined with a log line, never an entry", () => {
    const dir = freshDir();
    const data = patternBytes(4000, 1);
    const metadata = patternBytes(40, 2);
    const good = [idOf(1), idOf(2)];
    for (const id of good) writeSpillFile(dir, id, data, metadata);
    writeSpillFile(dir, idOf(3), new Uint8Array(0), new Uint8Array(0));
    good.push(idOf(3));
    const bad: string[] = [];
    let n = 100;
    const valid = () => {
      const id = idOf(n++);
      return { id, bytes: spillFileBytesFor(id, data, metadata) };
    };
    // Truncated at every header byte, and in the content.
    for (const length of [
      ...Array.from({ length: SPILL_HEADER_BYTES }, (_, i) => i),
      SPILL_HEADER_BYTES + 10,
    ]) {
      const { id, bytes } = valid();
      writeFileSync(join(dir, spillFileName(id)), bytes.subarray(0, length));
      bad.push(hex(id));
    }
    // A flipped byte in every header position and in a few content positions.
    for (const at of [...Array.from({ length: SPILL_HEADER_BYTES }, (_, i) => i), 64, 2000, 4039]) {
      const { id, bytes } = valid();
      bytes[at] = (bytes[at] as number) ^ 0x10;
      writeFileSync(join(dir, spillFileName(id)), bytes);
      bad.push(hex(id));
    }
    // Another version (with a header checksum that matches), and a file named after another id.
    const { id: v2, bytes: v2bytes } = valid();
    const view = new DataView(v2bytes.buffer);
    view.setUint16(8, 2, true);
    view.setBigUint64(56, xxh64(v2bytes.subarray(0, 56)), true);
    writeFileSync(join(dir, spillFileName(v2)), v2bytes);
    bad.push(hex(v2));
    const { bytes: misnamed } = valid();
    const misnamedId = idOf(n++);
    writeFileSync(join(dir, spillFileName(misnamedId)), misnamed);
    bad.push(hex(misnamedId));
    // Extra bytes past the end.
    const { id: longId, bytes: longBytes } = valid();
    writeFileSync(join(dir, spillFileName(longId)), Buffer.concat([longBytes, Buffer.from([0])]));
    bad.push(hex(longId));

    const { logger, lines } = captureLog();
    const scan = scanSpillDirectory(dir, { logger });
    expect(scan.entries.map((e) => e.idHex).sort()).toEqual(good.map(hex).sort());
    const entry = scan.entries.find((e) => e.idHex === hex(idOf(1)));
    expect(entry).toEqual({
      id: idOf(1),
      idHex: hex(idOf(1)),
      dataSizeBytes: 4000,
      metadataSizeBytes: 40,
      fileBytes: SPILL_HEADER_BYTES + 4040,
      path: join(dir, spillFileName(idOf(1))),
    });
    expect(scan.quarantined.map((q) => q.name.slice(0, 40)).sort()).toEqual(bad.sort());
    const quarantineNames = readdirSync(join(dir, "quarantine")).sort();
    expect(quarantineNames).toEqual(bad.map((h) => `${h}.spill`).sort());
    const logged = lines.filter((l) => l.msg === "spill file quarantined, not served");
    expect(logged).toHaveLength(bad.length);
    const reasons = new Set(scan.quarantined.map((q) => q.reason.split(":")[0]));
    for (const r of [
      "truncated",
      "magic",
      "version",
      "header-checksum",
      "file-size",
      "content-checksum",
      "id-mismatch",
    ]) {
      expect(reasons.has(r)).toBe(true);
    }
    // A second scan finds the same entries and nothing more to quarantine.
    const again = scanSpillDirectory(dir, { logger });
    expect(again.entries.map((e) => e.idHex).sort()).toEqual(good.map(hex).sort());
    expect(again.quarantined).toEqual([]);
  });

  test("without verifyContent a flipped content byte is not seen (restore still checks it)", () => {
    const dir = freshDir();
    const id = idOf(1);
    const bytes = spillFileBytesFor(id, patternBytes(100, 1), new Uint8Array(0));
    bytes[80] = (bytes[80] as number) ^ 1;
    writeFileSync(join(dir, spillFileName(id)), bytes);
    const { logger } = captureLog();
    expect(scanSpillDirectory(dir, { logger, verifyContent: false }).entries).toHaveLength(1);
    expect(scanSpillDirectory(dir, { logger }).entries).toHaveLength(0);
  });

  test("a quarantined name already taken gets a suffix", () => {
    const dir = freshDir();
    const { logger } = captureLog();
    for (let round = 0; round < 3; round++) {
      writeFileSync(join(dir, spillFileName(idOf(1))), "broken");
      scanSpillDirectory(dir, { logger });
    }
    const name = spillFileName(idOf(1));
    expect(readdirSync(join(dir, "quarantine")).sort()).toEqual([name, `${name}.1`, `${name}.2`]);
  });

  test("a 'quarantine' that is not a directory stops the scan with a clear error", () => {
    const dir = freshDir();
    writeFileSync(join(dir, "quarantine"), "x");
    const { logger } = captureLog();
    expect(() => scanSpillDirectory(dir, { logger })).toThrow(SpillDirectoryError);
  });
});

type FuzzEntry =
  | { kind: "valid"; n: number; dataBytes: number; metadataBytes: number }
  | { kind: "random-content"; n: number; bytes: Uint8Array }
  | { kind: "foreign"; name: string; bytes: Uint8Array }
  | { kind: "tmp"; n: number; bytes: Uint8Array }
  | { kind: "symlink"; n: number }
  | { kind: "directory"; n: number };

const fuzzEntry: fc.Arbitrary<FuzzEntry> = fc.oneof(
  fc.record({
    kind: fc.constant("valid" as const),
    n: fc.integer({ min: 0, max: 40 }),
    dataBytes: fc.integer({ min: 0, max: 3000 }),
    metadataBytes: fc.integer({ min: 0, max: 100 }),
  }),
  fc.record({
    kind: fc.constant("random-content" as const),
    n: fc.integer({ min: 0, max: 40 }),
    bytes: fc.uint8Array({ maxLength: 300 }),
  }),
  fc.record({
    kind: fc.constant("foreign" as const),
    name: fc
      .stringMatching(/^[A-Za-z0-9._-]{1,50}$/)
      .filter(
        (s) =>
          s !== "." &&
          s !== ".." &&
          !s.endsWith(".tmp") &&
          !/^[0-9a-f]{40}\.spill$/.test(s) &&
          s !== "LOCK" &&
          s !== "quarantine",
      ),
    bytes: fc.uint8Array({ maxLength: 100 }),
  }),
  fc.record({
    kind: fc.constant("tmp" as const),
    n: fc.integer({ min: 0, max: 40 }),
    bytes: fc.uint8Array({ maxLength: 100 }),
  }),
  fc.record({ kind: fc.constant("symlink" as const), n: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ kind: fc.constant("directory" as const), n: fc.integer({ min: 0, max: 40 }) }),
);

describe("fuzzing the spill directory", () => {
  test("only intact regular files are served; links and their targets are never followed or touched", () => {
    fc.assert(
      fc.property(fc.array(fuzzEntry, { maxLength: 25 }), (plan) => {
        const root = freshDir();
        const dir = join(root, "spill");
        mkdirSync(dir);
        // A real, valid spill file outside DIR: the target of every symlink.
        const outside = join(root, "outside.spill");
        const outsideBytes = spillFileBytesFor(idOf(999), patternBytes(500, 9), new Uint8Array(0));
        writeFileSync(outside, outsideBytes);
        const expected = new Map<string, number>();
        const foreign = new Map<string, Uint8Array>();
        const taken = new Set<string>();
        for (const entry of plan) {
          const id = "n" in entry ? idOf(entry.n) : undefined;
          const name =
            entry.kind === "foreign"
              ? entry.name
              : entry.kind === "tmp"
                ? `${hex(id as Uint8Array)}.tmp`
                : spillFileName(id as Uint8Array);
          if (taken.has(name)) continue;
          taken.add(name);
          const path = join(dir, name);
          if (entry.kind === "valid") {
            writeSpillFile(
              dir,
              id as Uint8Array,
              patternBytes(entry.dataBytes, entry.n),
              patternBytes(entry.metadataBytes, entry.n + 1),
            );
            expected.set(hex(id as Uint8Array), entry.dataBytes);
          } else if (entry.kind === "symlink") symlinkSync(outside, path);
          else if (entry.kind === "directory") mkdirSync(path);
          else {
            writeFileSync(path, entry.bytes);
            if (entry.kind === "foreign") foreign.set(name, entry.bytes);
          }
        }
        const { logger } = captureLog();
        const scan = scanSpillDirectory(dir, { logger });
        expect(new Map(scan.entries.map((e) => [e.idHex, e.dataSizeBytes]))).toEqual(expected);
        for (const e of scan.entries) expect(lstatSync(e.path).isFile()).toBe(true);
        // The symlinks' target is untouched, and no link is left in DIR.
        expect(Buffer.from(readFileSync(outside)).equals(Buffer.from(outsideBytes))).toBe(true);
        const left = readdirSync(dir).filter((name) => name !== "quarantine" && name !== "LOCK");
        for (const name of left) expect(lstatSync(join(dir, name)).isSymbolicLink()).toBe(false);
        expect(left.some((name) => name.endsWith(".tmp"))).toBe(false);
        // Names that are not ours are left exactly as they were.
        for (const [name, bytes] of foreign) {
          expect(Buffer.from(readFileSync(join(dir, name))).equals(Buffer.from(bytes))).toBe(true);
        }
        expect(left.sort()).toEqual(
          [...expected.keys()]
            .map((h) => `${h}.spill`)
            .concat([...foreign.keys()])
            .sort(),
        );
        rmSync(root, { recursive: true, force: true });
      }),
      { numRuns: 60 },
    );
  });
});
