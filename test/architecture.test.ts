import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

/**
 * The floors of docs/architecture.md, checked: a file in src/ imports only from its own folder or from a
 * lower floor. Type-only imports count (they are the same dependency), and so do dynamic ones.
 */
const FLOORS: Readonly<Record<string, number>> = {
  "log.ts": 0,
  runtime: 0,
  protocol: 1,
  ffi: 1,
  "cli-support": 2,
  store: 3,
  client: 3,
  admin: 4,
  cluster: 4,
  spill: 4,
  daemon: 5,
};

/** Relative imports that leave src/ (only the package's own manifest, for the version). */
const OUTSIDE_SRC_ALLOWED = new Set(["package.json"]);

const SRC = resolve(import.meta.dir, "../src");

/** Every module specifier in TypeScript source: static, type-only, re-exports, side-effect and dynamic. */
function importSpecifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const patterns = [
    /\b(?:import|export)\b[^'"`;]*?\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
  ];
  const specifiers: string[] = [];
  for (const pattern of patterns) {
    for (const match of code.matchAll(pattern)) specifiers.push(match[1] as string);
  }
  return specifiers;
}

/** The folder under src/ (or the root file) a path belongs to; null outside src/. */
function floorName(path: string): string | null {
  const inSrc = relative(SRC, path);
  if (inSrc.startsWith("..")) return null;
  return inSrc.split(sep)[0] as string;
}

/** What is wrong with one file's imports, as "src/a/x.ts imports ../b/y.ts (a may not import b)" lines. */
function violations(filePath: string, source: string): string[] {
  const from = floorName(filePath);
  const shown = relative(join(SRC, ".."), filePath);
  if (from === null) return [`${shown} is not under src/`];
  const fromFloor = FLOORS[from];
  if (fromFloor === undefined) {
    return [`${shown}: src/${from} has no floor; add it to FLOORS here and to docs/architecture.md`];
  }
  const found: string[] = [];
  for (const specifier of importSpecifiers(source)) {
    if (!specifier.startsWith(".")) continue; // packages, node:, bun:
    const target = resolve(dirname(filePath), specifier);
    const to = floorName(target);
    if (to === null) {
      const name = relative(join(SRC, ".."), target);
      if (!OUTSIDE_SRC_ALLOWED.has(name)) found.push(`${shown} imports ${specifier}, outside src/`);
      continue;
    }
    if (to === from) continue;
    const toFloor = FLOORS[to];
    if (toFloor === undefined || toFloor >= fromFloor) {
      found.push(`${shown} imports ${specifier} (${from}, floor ${fromFloor}, may not import ${to})`);
    }
  }
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".ts"))
    .map((name) => join(dir, name));
}

describe("floors", () => {
  test("the import scanner sees every kind of import", () => {
    const source = [
      `import { a } from "./a.ts";`,
      `import type { B } from "../b/b.ts";`,
      `import {\n  type C,\n  d,\n} from "../c/c.ts";`,
      `export { e } from "./e.ts";`,
      `export type { F } from "./f.ts";`,
      `import "./side-effect.ts";`,
      `const g = await import("../g/g.ts");`,
      `/** import { nope } from "./comment.ts"; */`,
      `// import { nope } from "./line-comment.ts";`,
    ].join("\n");
    expect(importSpecifiers(source).sort()).toEqual(
      ["./a.ts", "../b/b.ts", "../c/c.ts", "./e.ts", "./f.ts", "./side-effect.ts", "../g/g.ts"].sort(),
    );
  });

  test("an upward import is a violation, a downward one is not", () => {
    const storeFile = join(SRC, "store", "example.ts");
    expect(violations(storeFile, `import type { AdminPlane } from "../admin/plane.ts";`)).toHaveLength(1);
    expect(violations(storeFile, `const m = await import("../daemon/start.ts");`)).toHaveLength(1);
    expect(violations(storeFile, `import { StoreCore } from "../client/client.ts";`)).toHaveLength(1);
    expect(violations(join(SRC, "protocol", "x.ts"), `import { a } from "../ffi/index.ts";`)).toHaveLength(1);
    expect(violations(join(SRC, "ffi", "x.ts"), `import { L } from "../log.ts";`)).toHaveLength(0);
    expect(violations(join(SRC, "admin", "x.ts"), `import { S } from "../store/store.ts";`)).toHaveLength(0);
    expect(violations(join(SRC, "mystery", "x.ts"), "")).toHaveLength(1);
  });

  test("the daemon really imports store and admin (the scanner reads the real tree)", () => {
    const daemon = sourceFiles(join(SRC, "daemon")).flatMap((file) =>
      importSpecifiers(readFileSync(file, "utf8")),
    );
    expect(daemon.some((s) => s.startsWith("../admin/"))).toBe(true);
    expect(daemon.some((s) => s.startsWith("../store/"))).toBe(true);
  });

  for (const folder of Object.keys(FLOORS).filter((name) => !name.endsWith(".ts"))) {
    test(`src/${folder} imports only its own folder and lower floors`, () => {
      const found = sourceFiles(join(SRC, folder)).flatMap((file) =>
        violations(file, readFileSync(file, "utf8")),
      );
      expect(found).toEqual([]);
    });
  }

  test("every file in src/ is on a floor", () => {
    const found = readdirSync(SRC)
      .filter((name) => FLOORS[name] === undefined)
      .map((name) => `src/${name} has no floor; add it to FLOORS here and to docs/architecture.md`);
    expect(found).toEqual([]);
  });

  test("src/log.ts imports nothing of ours", () => {
    const file = join(SRC, "log.ts");
    expect(violations(file, readFileSync(file, "utf8"))).toEqual([]);
  });
});
