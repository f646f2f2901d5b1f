import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { hugePagesProblem, useHugePages } from "./helpers/huge-pages.ts";
import { prerequisite } from "./helpers/prerequisites.ts";
import { runCommand } from "./helpers/run.ts";
import { type StoreProcess, startStoreProcess } from "./helpers/store-process.ts";

const EXAMPLES = join(import.meta.dir, "../examples");
let store: StoreProcess;

beforeAll(async () => {
  store = await startStoreProcess();
});
afterAll(async () => {
  await store?.stop();
});

/** Runs an example against the test's store (PLASMA_SOCKET) and returns its stdout lines. */
async function run(file: string): Promise<string[]> {
  const { code, stdout, stderr } = await runCommand(["bun", join(EXAMPLES, file)], {
    env: { PLASMA_SOCKET: store.socketPath },
    timeoutMs: 60_000,
  });
  if (code !== 0) throw new Error(`${file} exited with ${code}:\n${stdout}\n${stderr}`);
  return stdout.trimEnd().split("\n");
}

/** examples/07-huge-pages.ts starts a 64 MiB store on 2 MiB pages. */
const HUGE_PAGES_FOR_EXAMPLE = 32;
const hasHugePages = prerequisite(
  "2 MiB huge pages (root, writable nr_hugepages)",
  hugePagesProblem(),
  "examples/07-huge-pages.ts is checked for its 'not available' message instead",
);

const HEX40 = /^[0-9a-f]{40}$/;

/**
 * With the pages reserved (HUGE_PAGES_FOR_EXAMPLE) the huge-page branch must run; where this machine cannot
 * have them (outside CI only) the example must say why instead.
 */
function checkHugePagesExample(lines: string[]): void {
  if (hasHugePages) {
    expect(lines).toEqual([
      `huge-page store: capacity ${64 * 1024 * 1024} bytes, page size ${2 * 1024 * 1024} bytes`,
      `put/get through huge pages: 1024 elements, sum ${(1023 * 1024) / 2}`,
    ]);
  } else {
    expect(lines).toHaveLength(1);
    expect(lines[0]).toStartWith("huge pages are not available here: ");
    expect(lines[0]).toContain("nr_hugepages");
  }
}

const CHECKS: Record<string, (lines: string[]) => void> = {
  "01-connect.ts": (lines) => {
    expect(lines).toEqual([`connected to ${store.socketPath}`, `store capacity: ${64 * 1024 * 1024} bytes`]);
  },
  "02-object-ids.ts": (lines) => {
    expect(lines).toEqual([
      "ObjectID(6161616161616161616161616161616161616161)",
      "random id: 20 bytes, different",
      "round trip through hex: true",
    ]);
  },
  "03-put-get.ts": (lines) => {
    expect(lines).toEqual(['"hello, world"', "Float64Array [1.5, 2.5, 3.5]", '[["answer",42]]']);
  },
  "04-buffers.ts": (lines) => {
    expect(lines).toHaveLength(5);
    const sealed = /^sealed ([0-9a-f]{40}): true$/.exec(lines[0] as string);
    expect(sealed).not.toBeNull();
    expect(lines.slice(1)).toEqual([
      "second process: 1000 bytes, buffer2[1:4] = [1,2,3]",
      `second process: buffer2[999] = ${999 % 128}`,
      "metadata: my metadata",
      "list: dataSize=3 metadataSize=11 state=sealed",
    ]);
  },
  "05-tensors.ts": (lines) => {
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(/^tensor float64 \[10,4\] needs (\d+) bytes$/);
    const size = Number(/needs (\d+)/.exec(lines[0] as string)?.[1]);
    // header padded to 64 bytes, then 40 float64s
    expect(size % 64).toBe(320 % 64);
    expect(size).toBeGreaterThan(320);
    expect(lines[1]).toBe("read back: float64 [10,4], strides [32,8]");
    expect(lines[2]).toMatch(/^zero-copy: data is a view on the plasma buffer at byte \d+: true$/);
    expect(Number(/at byte (\d+)/.exec(lines[2] as string)?.[1]) % 64).toBe(0);
    expect(lines[3]).toBe("same values: true");
    expect(lines[4]).toMatch(/^row 0: \[(-?\d+\.\d{4}, ){3}-?\d+\.\d{4}\]$/);
    expect(lines[5]).toBe("putTensor/get: int32 [2,3] [[0,2,4],[1,3,5]]");
  },
  "06-dataframe.ts": (lines) => {
    const wrote = /^wrote (\d+) of (\d+) bytes into ([0-9a-f]{40})$/.exec(lines[0] as string);
    expect(wrote?.[1]).toBe(wrote?.[2]);
    expect(wrote?.[3]).toMatch(HEX40);
    // what pandas prints for the walkthrough's frame
    expect(lines.slice(1, 6)).toEqual([
      "   one  two",
      "a  1.0  1.0",
      "b  2.0  2.0",
      "c  3.0  3.0",
      "d  NaN  4.0",
    ]);
    expect(JSON.parse(lines[6] as string)).toEqual([
      { index: "a", one: 1, two: 1 },
      { index: "b", one: 2, two: 2 },
      { index: "c", one: 3, two: 3 },
      { index: "d", one: null, two: 4 },
    ]);
  },
  "07-huge-pages.ts": checkHugePagesExample,
};

test("every walkthrough example has a check", () => {
  const walkthrough = readdirSync(EXAMPLES).filter((f) => /^\d\d-.*\.ts$/.test(f));
  expect(walkthrough.sort()).toEqual(Object.keys(CHECKS).sort());
});

function exampleTest(file: string, check: (lines: string[]) => void): void {
  test(`examples/${file} runs against a real store and prints what the walkthrough prints`, async () => {
    check(await run(file));
  });
}

for (const [file, check] of Object.entries(CHECKS)) {
  if (file === "07-huge-pages.ts") continue;
  exampleTest(file, check);
}

describe("huge pages", () => {
  if (hasHugePages) useHugePages(HUGE_PAGES_FOR_EXAMPLE);
  exampleTest("07-huge-pages.ts", checkHugePagesExample);
});
