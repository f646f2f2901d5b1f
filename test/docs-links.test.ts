/**
 * Every relative link in README.md and docs/*.md points at a file of the repository, and every `#anchor`
 * at a heading of the file it names (GitHub's slugs). Links inside code are not links and are skipped.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";

const ROOT = join(import.meta.dir, "..");
const DOCS = join(ROOT, "docs");
const FILES = [
  join(ROOT, "README.md"),
  ...readdirSync(DOCS)
    .filter((name) => name.endsWith(".md"))
    .map((name) => join(DOCS, name)),
];

/** The Markdown outside fenced code blocks and inline code spans. */
function prose(markdown: string): string {
  return markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "")
    .replace(/(`+)[^`]*?\1/g, (span) => span.replace(/[[\]()]/g, " "));
}

/** `[text](target)` and `![alt](target)` targets, without a title. */
function linkTargets(markdown: string): string[] {
  const links = [...prose(markdown).matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)];
  return links.map((match) => match[1] as string);
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

function anchors(file: string): Set<string> {
  const markdown = readFileSync(file, "utf8").replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
  const headings = [...markdown.matchAll(/^#{1,6}\s+(.*)$/gm)].map((match) => slug(match[1] as string));
  return new Set(headings);
}

/** What is wrong with one link from `from`, or null when it resolves. */
function problem(from: string, target: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return null; // https:, mailto:: not checked here
  const [pathPart = "", anchor] = target.split("#", 2);
  const file = pathPart === "" ? from : join(dirname(from), decodeURIComponent(pathPart));
  if (!existsSync(file)) return `${target}: no file ${relative(ROOT, file)}`;
  if (anchor === undefined || anchor === "") return null;
  if (statSync(file).isDirectory() || !file.endsWith(".md"))
    return `${target}: an anchor into a non-Markdown file`;
  return anchors(file).has(anchor) ? null : `${target}: no heading #${anchor} in ${relative(ROOT, file)}`;
}

describe("documentation links", () => {
  test("the link finder sees links, and none inside code", () => {
    expect(linkTargets('see [a](x.md) and ![b](y.png "t")')).toEqual(["x.md", "y.png"]);
    expect(linkTargets("`[a](in-code.md)`\n```\n[b](in-block.md)\n```\n")).toEqual([]);
    expect(slug("Values: typed arrays, tensors, Arrow tables")).toBe(
      "values-typed-arrays-tensors-arrow-tables",
    );
    expect(slug("`plasma-admin`")).toBe("plasma-admin");
  });

  for (const file of FILES) {
    test(`${relative(ROOT, file)}: every relative link resolves`, () => {
      const problems = linkTargets(readFileSync(file, "utf8"))
        .map((target) => problem(file, target))
        .filter((p) => p !== null);
      expect(problems).toEqual([]);
    });
  }
});
