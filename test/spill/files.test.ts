import { ptr } from "bun:ffi";
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  SpillCancelledError,
  SpillDiskFullError,
  SpillFormatError,
  SpillIoError,
} from "../../src/spill/errors.ts";
import { SpillFiles } from "../../src/spill/files.ts";
import { SPILL_HEADER_BYTES, spillFileName } from "../../src/spill/format.ts";
import { scanSpillDirectory } from "../../src/spill/scan.ts";
import { mount, mountProblem, unmount } from "../helpers/mounts.ts";
import { prerequisite, rootProblem } from "../helpers/prerequisites.ts";
import { waitUntil } from "../helpers/wait.ts";
import { captureLog, idOf, patternBytes } from "./helpers.ts";

const MiB = 1024 * 1024;
const dirs: string[] = [];
const opened: SpillFiles[] = [];

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "plasma-spill-files-"));
  dirs.push(dir);
  return dir;
}

function spillFiles(dir: string, chunkBytes?: number): SpillFiles {
  const files = new SpillFiles(dir, chunkBytes === undefined ? {} : { chunkBytes });
  opened.push(files);
  return files;
}

afterEach(async () => {
  for (const files of opened.splice(0)) await files.close();
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("spill and restore through the worker", () => {
  for (const [label, sizeBytes, metadataSizeBytes] of [
    ["0 bytes", 0, 0],
    ["1 byte", 1, 0],
    ["1 byte of metadata only", 0, 1],
    ["1 MiB + 1", MiB + 1, 17],
    ["256 MiB", 256 * MiB, 64],
  ] as const) {
    test(`${label}: byte-identical, and the file is header + data + metadata`, async () => {
      const dir = freshDir();
      const files = spillFiles(dir);
      const content = patternBytes(sizeBytes + metadataSizeBytes, sizeBytes + 3);
      const id = idOf(sizeBytes + metadataSizeBytes);
      const job = { id, dataSizeBytes: sizeBytes, metadataSizeBytes };
      const result = await files.spill({ ...job, source: content });
      expect(result.path).toBe(join(dir, spillFileName(id)));
      expect(result.sizeBytes).toBe(SPILL_HEADER_BYTES + content.length);
      expect(statSync(result.path).size).toBe(result.sizeBytes);
      expect(readdirSync(dir)).toEqual([spillFileName(id)]);
      const destination = new Uint8Array(content.length);
      await files.restore({ ...job, path: result.path }, destination);
      expect(Buffer.from(destination).equals(Buffer.from(content))).toBe(true);
    });
  }

  test("an arena region (pointer + offset) is read and written in place", async () => {
    const files = spillFiles(freshDir());
    const arena = patternBytes(4 * MiB, 11);
    const offsetBytes = MiB + 64;
    const job = { id: idOf(77), dataSizeBytes: MiB, metadataSizeBytes: 100 };
    const expected = arena.slice(offsetBytes, offsetBytes + MiB + 100);
    const { path } = await files.spill({ ...job, source: { pointer: ptr(arena), offsetBytes } });
    const target = new Uint8Array(4 * MiB);
    await files.restore({ ...job, path }, { pointer: ptr(target), offsetBytes: 2 * MiB });
    expect(
      Buffer.from(target.subarray(2 * MiB, 2 * MiB + expected.length)).equals(Buffer.from(expected)),
    ).toBe(true);
    expect(target.subarray(0, 2 * MiB).every((b) => b === 0)).toBe(true);
    expect(target.subarray(2 * MiB + expected.length).every((b) => b === 0)).toBe(true);
    // Used after the awaits, so that the collector cannot free the source while the worker reads it
    // (the job holds its address, not the array).
    expect(
      Buffer.from(arena.subarray(offsetBytes, offsetBytes + expected.length)).equals(Buffer.from(expected)),
    ).toBe(true);
  });

  test("jobs run in call order, several in flight", async () => {
    const files = spillFiles(freshDir(), 4096);
    const contents = Array.from({ length: 8 }, (_, n) => patternBytes(100_000 + n, n));
    const results = await Promise.all(
      contents.map((source, n) =>
        files.spill({ id: idOf(n), dataSizeBytes: source.length, metadataSizeBytes: 0, source }),
      ),
    );
    expect(files.inFlight).toBe(0);
    for (const [n, source] of contents.entries()) {
      const out = new Uint8Array(source.length);
      await files.restore(
        { id: idOf(n), dataSizeBytes: source.length, metadataSizeBytes: 0, path: results[n]?.path ?? "" },
        out,
      );
      expect(Buffer.from(out).equals(Buffer.from(source))).toBe(true);
    }
  });
});

describe("restores do not wait for spills", () => {
  test("a small restore completes while a large spill, posted first, is still being written", async () => {
    const files = spillFiles(freshDir(), 64 * 1024);
    const small = patternBytes(1024, 5);
    const written = await files.spill({
      id: idOf(1),
      dataSizeBytes: small.length,
      metadataSizeBytes: 0,
      source: small,
    });
    const large = patternBytes(256 * MiB, 6);
    let largeSettled = false;
    const spilling = files
      .spill({ id: idOf(2), dataSizeBytes: large.length, metadataSizeBytes: 0, source: large })
      .finally(() => {
        largeSettled = true;
      });
    const out = new Uint8Array(small.length);
    await files.restore(
      { id: idOf(1), dataSizeBytes: small.length, metadataSizeBytes: 0, path: written.path },
      out,
    );
    // One worker ran jobs in call order: the restore waited for the whole 256 MiB write and fsync.
    expect(largeSettled).toBe(false);
    expect(Buffer.from(out).equals(Buffer.from(small))).toBe(true);
    expect((await spilling).sizeBytes).toBe(SPILL_HEADER_BYTES + large.length);
  });
});

describe("restore never returns unverified bytes", () => {
  async function spilled(): Promise<{ files: SpillFiles; path: string; content: Uint8Array }> {
    const files = spillFiles(freshDir(), 64 * 1024);
    const content = patternBytes(300_000, 5);
    const { path } = await files.spill({
      id: idOf(5),
      dataSizeBytes: 299_990,
      metadataSizeBytes: 10,
      source: content,
    });
    return { files, path, content };
  }
  const job = (path: string) => ({ id: idOf(5), dataSizeBytes: 299_990, metadataSizeBytes: 10, path });

  test("a flipped content byte rejects with content-checksum", async () => {
    const { files, path } = await spilled();
    const bytes = readFileSync(path);
    bytes[SPILL_HEADER_BYTES + 123_456] = (bytes[SPILL_HEADER_BYTES + 123_456] as number) ^ 1;
    writeFileSync(path, bytes);
    const error = await files.restore(job(path), new Uint8Array(300_000)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SpillFormatError);
    expect((error as SpillFormatError).problem).toBe("content-checksum");
  });

  test("a truncated file rejects with file-size, another id or size with id-mismatch", async () => {
    const { files, path, content } = await spilled();
    const other = { ...job(path), id: idOf(6) };
    const wrongId = await files.restore(other, new Uint8Array(300_000)).catch((e: unknown) => e);
    expect((wrongId as SpillFormatError).problem).toBe("id-mismatch");
    const wrongSize = await files
      .restore({ ...job(path), dataSizeBytes: 299_989, metadataSizeBytes: 11 }, new Uint8Array(300_000))
      .catch((e: unknown) => e);
    expect((wrongSize as SpillFormatError).problem).toBe("id-mismatch");
    writeFileSync(path, readFileSync(path).subarray(0, SPILL_HEADER_BYTES + content.length - 1));
    const truncated = await files.restore(job(path), new Uint8Array(300_000)).catch((e: unknown) => e);
    expect((truncated as SpillFormatError).problem).toBe("file-size");
  });

  test("a missing file is a SpillIoError with ENOENT", async () => {
    const { files, path } = await spilled();
    rmSync(path);
    const error = await files.restore(job(path), new Uint8Array(300_000)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SpillIoError);
    expect((error as SpillIoError).io.errno).toBe("ENOENT");
    expect((error as SpillIoError).code).toBe("SPILL_IO");
  });

  test("a destination view of the wrong length is misuse (RangeError)", async () => {
    const { files, path } = await spilled();
    expect(() => files.restore(job(path), new Uint8Array(299_999))).toThrow(RangeError);
  });
});

describe("cancellation", () => {
  test("close() cancels a spill in flight and the queue; the .tmp is removed; later calls reject", async () => {
    const dir = freshDir();
    const files = new SpillFiles(dir, { chunkBytes: 64 * 1024 });
    const content = patternBytes(64 * MiB, 9);
    const first = files.spill({
      id: idOf(1),
      dataSizeBytes: content.length,
      metadataSizeBytes: 0,
      source: content,
    });
    const second = files.spill({
      id: idOf(2),
      dataSizeBytes: content.length,
      metadataSizeBytes: 0,
      source: content,
    });
    const outcomes = Promise.allSettled([first, second]);
    await files.close();
    for (const outcome of await outcomes) {
      expect(outcome.status).toBe("rejected");
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(SpillCancelledError);
    }
    expect(readdirSync(dir)).toEqual([]);
    const late = await files
      .spill({ id: idOf(3), dataSizeBytes: 1, metadataSizeBytes: 0, source: new Uint8Array(1) })
      .catch((e: unknown) => e);
    expect(late).toBeInstanceOf(SpillCancelledError);
  });
});

describe("crash safety", () => {
  test("SIGKILL mid-spill leaves complete .spill files or .tmp garbage that the next scan removes", async () => {
    const dir = freshDir();
    const sizeBytes = 32 * MiB;
    const child = Bun.spawn(
      ["bun", join(import.meta.dir, "fixtures/spill-child.ts"), dir, String(sizeBytes)],
      {
        stdout: "pipe",
        stderr: "inherit",
      },
    );
    const tmpInProgress = () =>
      readdirSync(dir).some(
        (name) => name.endsWith(".tmp") && statSync(join(dir, name)).size > SPILL_HEADER_BYTES,
      );
    // Killed once the second object is half written: the first is complete, the second only a .tmp.
    await waitUntil("a second spill is under way", () => {
      const names = readdirSync(dir);
      return names.some((n) => n.endsWith(".spill")) && tmpInProgress();
    });
    child.kill("SIGKILL");
    await child.exited;
    const names = readdirSync(dir);
    expect(names.some((n) => n.endsWith(".tmp"))).toBe(true);
    const { logger } = captureLog();
    const scan = scanSpillDirectory(dir, { logger });
    expect(scan.quarantined).toEqual([]);
    expect(scan.removedTmpFiles).toBe(1);
    const spilledNames = names.filter((n) => n.endsWith(".spill"));
    expect(scan.entries.map((e) => `${e.idHex}.spill`).sort()).toEqual(spilledNames.sort());
    for (const entry of scan.entries) expect(entry.fileBytes).toBe(SPILL_HEADER_BYTES + sizeBytes);
    expect(
      readdirSync(dir)
        .filter((n) => n !== "quarantine")
        .sort(),
    ).toEqual(spilledNames.sort());
  });
});

const TMPFS_ARGS = ["-t", "tmpfs", "-o", "size=1m", "tmpfs"];
const hasTmpfs = prerequisite("mounting a 1 MiB tmpfs (root)", rootProblem() ?? mountProblem(TMPFS_ARGS));

describe.skipIf(!hasTmpfs)("disk full", () => {
  test("ENOSPC rejects with SpillDiskFullError and removes the .tmp", async () => {
    const where = freshDir();
    expect(mount(TMPFS_ARGS, where)).toBeNull();
    try {
      const files = spillFiles(where, 256 * 1024);
      const content = patternBytes(2 * MiB, 4);
      const error = await files
        .spill({ id: idOf(4), dataSizeBytes: content.length, metadataSizeBytes: 0, source: content })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SpillDiskFullError);
      expect((error as SpillDiskFullError).code).toBe("SPILL_DISK_FULL");
      expect((error as SpillDiskFullError).io.errno).toBe("ENOSPC");
      expect(((error as SpillDiskFullError).cause as NodeJS.ErrnoException).code).toBe("ENOSPC");
      expect(readdirSync(where)).toEqual([]);
      // The disk has room again for a small object: the next spill works.
      const small = patternBytes(1000, 1);
      const { path } = await files.spill({
        id: idOf(5),
        dataSizeBytes: 1000,
        metadataSizeBytes: 0,
        source: small,
      });
      expect(existsSync(path)).toBe(true);
    } finally {
      for (const files of opened.splice(0)) await files.close();
      unmount(where);
    }
  });
});
