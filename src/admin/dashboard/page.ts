import { join } from "node:path";

/**
 * The dashboard page: app.ts bundled for the browser by Bun.build and style.css, inlined into one HTML
 * document (no CDN, no other request for assets: it works on machines without internet). Built on the
 * first GET / of the store process and kept in memory, so a fresh checkout needs no build step.
 */

const DIR = import.meta.dir;

let built: Promise<string> | null = null;

function escapeForScript(code: string): string {
  // A literal "</script" inside the bundle would end the inline script element.
  return code.replace(/<\/script/gi, "<\\/script");
}

async function build(): Promise<string> {
  const result = await Bun.build({
    entrypoints: [join(DIR, "app.ts")],
    target: "browser",
    format: "esm",
    minify: true,
  });
  if (!result.success) {
    throw new Error(`Bundling the dashboard failed: ${result.logs.map(String).join("\n")}`);
  }
  const output = result.outputs[0];
  if (output === undefined) throw new Error("Bundling the dashboard produced no output.");
  const [template, css, js] = await Promise.all([
    Bun.file(join(DIR, "index.html")).text(),
    Bun.file(join(DIR, "style.css")).text(),
    output.text(),
  ]);
  return template
    .replace("/*__STYLE__*/", () => css.replace(/<\/style/gi, "<\\/style"))
    .replace("/*__SCRIPT__*/", () => escapeForScript(js));
}

/** The page's HTML, built once per process (a failed build is retried on the next request). */
export function dashboardHtml(): Promise<string> {
  if (built === null) {
    built = build();
    built.catch(() => {
      built = null;
    });
  }
  return built;
}

/** GET /: the page. It carries no store data; everything comes from /v1/* with the viewer's token. */
export async function dashboardPage(): Promise<Response> {
  return new Response(await dashboardHtml(), {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      // Everything is inline; the page talks only to this server.
      "content-security-policy":
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
    },
  });
}
