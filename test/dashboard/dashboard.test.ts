import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { type Browser, chromium, type Page } from "playwright-core";
import { ObjectID } from "../../src/client/index.ts";
import { type AdminStore, pattern, startAdminStore } from "../admin/helpers.ts";

// The operator dashboard end to end: a real store with its admin plane, real client processes making
// objects, and the page in headless Chromium (Debian's chromium + playwright-core).

const CHROMIUM = "/usr/bin/chromium";
/** Screenshots and the downloaded object: PLASMA_TEST_ARTIFACTS, else a fresh temporary directory. */
const ARTIFACTS = process.env.PLASMA_TEST_ARTIFACTS ?? mkdtempSync(join(tmpdir(), "plasma-dashboard-"));
const CLIENT = join(import.meta.dir, "fixtures/client.ts");
const TOKEN = "dashboard-s3cret";
/** Generous: two shared cores, other engineers' tests running at the same time. */
const WAIT_MS = 60_000;

/** A client process of fixtures/client.ts, driven line by line. */
class ClientProcess {
  readonly proc: Subprocess<"pipe", "pipe", "pipe">;
  #output = "";
  #listeners = new Set<() => void>();
  #commands = 0;

  constructor(socketPath: string) {
    this.proc = Bun.spawn(["bun", CLIENT, socketPath], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        this.#output += decoder.decode(chunk, { stream: true });
        for (const l of this.#listeners) l();
      }
    };
    void pump(this.proc.stdout);
    void pump(this.proc.stderr);
  }

  get pid(): number {
    return this.proc.pid;
  }

  waitFor(line: RegExp): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = line.exec(this.#output);
        if (m !== null) {
          done();
          resolve(m[0]);
        } else if (/^error \d+:/m.test(this.#output)) {
          done();
          reject(new Error(`client ${this.pid} failed:\n${this.#output}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`client ${this.pid}: no ${line} within ${WAIT_MS} ms:\n${this.#output}`));
      }, WAIT_MS);
      const done = () => {
        clearTimeout(timer);
        this.#listeners.delete(check);
      };
      this.#listeners.add(check);
      check();
    });
  }

  async send(command: Record<string, unknown>): Promise<void> {
    const n = ++this.#commands;
    this.proc.stdin.write(`${JSON.stringify(command)}\n`);
    await this.proc.stdin.flush();
    await this.waitFor(new RegExp(`^ok ${n}$`, "m"));
  }

  async put(id: string, size: number, seed: number, metadata?: Uint8Array): Promise<void> {
    const metaHex = metadata === undefined ? undefined : Buffer.from(metadata).toString("hex");
    await this.send({ op: "put", id, size, seed, metaHex });
  }

  async exit(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.killed) return;
    this.proc.stdin.write(`${JSON.stringify({ op: "exit" })}\n`);
    await this.proc.stdin.flush();
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), WAIT_MS);
    await this.proc.exited;
    clearTimeout(timer);
  }
}

interface Made {
  id: string;
  dataSizeBytes: number;
  metadata: Uint8Array;
  seed: number;
}

const text = (s: string) => new TextEncoder().encode(s);
const newId = () => ObjectID.fromRandom().hex();

/** Waits until the element's text (or an attribute) equals `expected`; fails with what it saw. */
async function waitForValue(
  page: Page,
  selector: string,
  expected: string,
  attribute?: string,
): Promise<void> {
  try {
    await page.waitForFunction(
      ([sel, want, attr]) => {
        const el = document.querySelector(sel as string);
        if (el === null) return false;
        const got = attr ? el.getAttribute(attr) : el.textContent;
        return got === want;
      },
      [selector, expected, attribute ?? ""] as const,
      { timeout: WAIT_MS },
    );
  } catch {
    const el = page.locator(selector);
    const got = attribute ? await el.getAttribute(attribute) : await el.textContent();
    throw new Error(
      `${selector}${attribute ? `[${attribute}]` : ""}: expected ${expected}, page shows ${got}`,
    );
  }
}

async function objectRows(
  page: Page,
): Promise<{ id: string; data: number; metadata: number; refs: number; state: string }[]> {
  return page.$$eval("#objects-table tbody tr", (rows) =>
    rows.map((tr) => {
      const d = (tr as HTMLElement).dataset;
      return {
        id: d.id ?? "",
        data: Number(d.dataSize),
        metadata: Number(d.metadataSize),
        refs: Number(d.refCount),
        state: d.state ?? "",
      };
    }),
  );
}

/** Clicks the confirmation dialog's button after checking what it asks. */
async function confirm(page: Page, asks: RegExp, ok = true): Promise<void> {
  const dialog = page.locator("#confirm");
  await dialog.waitFor({ state: "visible", timeout: WAIT_MS });
  expect(await page.locator("#confirm-text").textContent()).toMatch(asks);
  await page.click(ok ? "#confirm-ok" : "#confirm-cancel");
  await dialog.waitFor({ state: "hidden", timeout: WAIT_MS });
}

describe("operator dashboard in headless Chromium", () => {
  let s: AdminStore;
  let browser: Browser;
  let page: Page;
  let a: ClientProcess;
  let b: ClientProcess;
  const made = new Map<string, Made>();
  const url = () => `http://${s.http}/`;

  const put = async (client: ClientProcess, size: number, metadata: Uint8Array = new Uint8Array(0)) => {
    const object: Made = { id: newId(), dataSizeBytes: size, metadata, seed: made.size + 1 };
    await client.put(object.id, size, object.seed, metadata.length > 0 ? metadata : undefined);
    made.set(object.id, object);
    return object;
  };

  // Client A: three sealed objects (text, none and binary metadata), holds references on two.
  // Client B: one 2 MiB object it holds, nine of 4 KiB, and one 5000-byte object it never seals.
  let a1: Made;
  let a2: Made;
  let a3: Made;
  let b1: Made;
  const bSmall: Made[] = [];
  const b0 = { id: newId(), dataSizeBytes: 5000 };

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: run .ci/install-system-deps (apt-get install chromium).`);
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    console.log(`dashboard artifacts: ${ARTIFACTS}`);
    s = await startAdminStore({ memory: "32MiB", args: ["--admin-token", TOKEN], token: TOKEN });
    a = new ClientProcess(s.store.socketPath);
    b = new ClientProcess(s.store.socketPath);
    await Promise.all([a.waitFor(/^ready$/m), b.waitFor(/^ready$/m)]);
    a1 = await put(a, 100_000, text('{"dtype":"float64","shape":[12500]}'));
    a2 = await put(a, 250_000);
    a3 = await put(a, 1000, new Uint8Array([0, 1, 2, 0xff]));
    await a.send({ op: "hold", id: a1.id });
    await a.send({ op: "hold", id: a2.id });
    b1 = await put(b, 2 * 1024 * 1024, text("frame"));
    for (let i = 0; i < 9; i++) bSmall.push(await put(b, 4096));
    await b.send({ op: "hold", id: b1.id });
    await b.send({ op: "create", id: b0.id, size: b0.dataSizeBytes });

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    const context = await browser.newContext({
      viewport: { width: 1440, height: 1100 },
      acceptDownloads: true,
    });
    page = await context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all([a?.exit(), b?.exit()]);
    await s?.stop();
  });

  const sizeOf = (o: Made) => o.dataSizeBytes + o.metadata.length;

  test("without the token the page shows nothing and the API refuses a policy change", async () => {
    await page.goto(url());
    await waitForValue(page, "#auth-message", "missing", "data-reason");
    expect(await page.locator("#main").isHidden()).toBe(true);
    expect(await page.locator("#actions").isHidden()).toBe(true);
    expect(await page.locator("#connection").textContent()).toBe("locked");
    // What the page's own script would send without a token: refused, and the store is unchanged.
    const refused = await page.evaluate(async () => {
      const r = await fetch("/v1/policy", {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: "fifo" }),
      });
      return { status: r.status, body: (await r.json()) as { error: { code: string } } };
    });
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe("UNAUTHENTICATED");
    expect((await s.admin.policy()).name).toBe("lru");
    // A wrong token: still locked, with a message that says so.
    await page.fill("#token-input", "not-the-token");
    await page.click("#token-form button[type=submit]");
    await waitForValue(page, "#auth-message", "wrong", "data-reason");
    expect(await page.locator("#main").isHidden()).toBe(true);
    const wrong = await page.evaluate(async () => {
      const r = await fetch("/v1/policy", {
        method: "PUT",
        headers: { "content-type": "application/json", authorization: "Bearer not-the-token" },
        body: JSON.stringify({ name: "fifo" }),
      });
      return r.status;
    });
    expect(wrong).toBe(401);
    expect((await s.admin.policy()).name).toBe("lru");
    expect(s.store.output()).toContain("admin HTTP request refused: unauthenticated");
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-locked.png") });
  });

  test("a token in the address's fragment unlocks the page, and leaves the address bar", async () => {
    const context = await browser.newContext();
    try {
      const tab = await context.newPage();
      await tab.goto(`${url()}#token=${encodeURIComponent(TOKEN)}`);
      await waitForValue(tab, "#connection", "live", "data-state");
      expect(await tab.locator("#main").isHidden()).toBe(false);
      expect(tab.url()).toBe(url());
      expect(await tab.evaluate(() => sessionStorage.getItem("plasma-admin-token"))).toBe(TOKEN);
    } finally {
      await context.close();
    }
  });

  test("with the token: header, memory and object counts match what the clients did", async () => {
    await page.fill("#token-input", TOKEN);
    await page.click("#token-form button[type=submit]");
    await waitForValue(page, "#connection", "live", "data-state");
    expect(await page.locator("#auth-message").isHidden()).toBe(true);

    const info = await s.admin.info();
    await waitForValue(page, "#info-pid", String(s.store.proc.pid));
    await waitForValue(page, "#info-host", hostname());
    await waitForValue(page, "#info-version", info.version);
    await waitForValue(page, "#info-capacity", "32.0 MiB");
    await waitForValue(page, "#info-backing", "memfd");
    await waitForValue(page, "#info-huge-pages", "no");
    await waitForValue(page, "#info-policy", "lru");

    const sealed = [a1, a2, a3, b1, ...bSmall];
    const sealedBytes = sealed.reduce((sum, o) => sum + sizeOf(o), 0);
    await waitForValue(page, "#objects-sealed", String(sealed.length));
    await waitForValue(page, "#objects-created", "1");
    await waitForValue(page, "#bytes-sealed", String(sealedBytes), "data-bytes");
    await waitForValue(page, "#clients-count", "2");
    await waitForValue(page, "#capacity-bytes", String(32 * 1024 * 1024), "data-bytes");
    // Used covers every object's allocation; the bar's three numbers add up to the arena.
    const used = Number(await page.locator("#used-bytes").getAttribute("data-bytes"));
    const free = Number(await page.locator("#free-bytes").getAttribute("data-bytes"));
    const largest = Number(await page.locator("#largest-free").getAttribute("data-bytes"));
    expect(used).toBeGreaterThanOrEqual(sealedBytes + b0.dataSizeBytes);
    expect(used + free).toBe(32 * 1024 * 1024);
    expect(largest).toBeLessThanOrEqual(free);
    expect(largest).toBeGreaterThan(0);
    // Evictable: the sealed objects nobody holds (a3 and B's nine small ones).
    await waitForValue(
      page,
      "#evictable-bytes",
      String(sizeOf(a3) + bSmall.reduce((n, o) => n + sizeOf(o), 0)),
      "data-bytes",
    );

    // Objects table: 14 objects, newest first, 25 a page.
    await waitForValue(page, "#objects-total", "14", "data-count");
    const rows = await objectRows(page);
    expect(rows.length).toBe(14);
    for (const row of rows) {
      if (row.id === b0.id) {
        expect(row).toEqual({ id: b0.id, data: 5000, metadata: 0, refs: 1, state: "created" });
        continue;
      }
      const o = made.get(row.id);
      expect(o).toBeDefined();
      const heldBy = [a1.id, a2.id, b1.id].includes(row.id) ? 1 : 0;
      expect(row).toEqual({
        id: row.id,
        data: o?.dataSizeBytes ?? -1,
        metadata: o?.metadata.length ?? -1,
        refs: heldBy,
        state: "sealed",
      });
    }

    // Clients: A holds a1 and a2; B holds b1 and its unsealed b0 (a creator holds what it creates).
    const clients = await page.$$eval("#clients-table tbody tr", (trs) =>
      trs.map((tr) => ({ ...(tr as HTMLElement).dataset })),
    );
    const byPid = new Map(clients.map((c) => [Number(c.pid), c]));
    expect(byPid.get(a.pid)).toEqual({
      pid: String(a.pid),
      references: "2",
      bytesHeld: String(sizeOf(a1) + sizeOf(a2)),
      bytesCreated: String(sizeOf(a1) + sizeOf(a2) + sizeOf(a3)),
    });
    expect(byPid.get(b.pid)).toEqual({
      pid: String(b.pid),
      references: "2",
      bytesHeld: String(sizeOf(b1) + b0.dataSizeBytes),
      bytesCreated: String(sizeOf(b1) + bSmall.reduce((n, o) => n + sizeOf(o), 0) + b0.dataSizeBytes),
    });
    expect(clients.length).toBe(2);
  });

  test("a new object appears live, without a reload, in the table, the counts and the events", async () => {
    await page.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });
    const before = Number(await page.locator("#objects-sealed").textContent());
    const live = await put(a, 12_345, text("live"));
    await page.waitForSelector(`#objects-table tbody tr[data-id="${live.id}"]`, { timeout: WAIT_MS });
    await page.waitForSelector(`#events-list li[data-kind="sealed"][data-id="${live.id}"]`, {
      timeout: WAIT_MS,
    });
    await page.waitForSelector(`#events-list li[data-kind="created"][data-id="${live.id}"]`, {
      timeout: WAIT_MS,
    });
    await waitForValue(page, "#objects-sealed", String(before + 1));
    await waitForValue(page, "#objects-total", "15", "data-count");
    const row = (await objectRows(page)).find((r) => r.id === live.id);
    expect(row).toEqual({ id: live.id, data: 12_345, metadata: 4, refs: 0, state: "sealed" });
    // Newest first by default.
    expect((await objectRows(page))[0]?.id).toBe(live.id);
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(
      true,
    );
    // A client that connects shows up in the events too.
    const c = new ClientProcess(s.store.socketPath);
    await c.waitFor(/^ready$/m);
    await page.waitForSelector(`#events-list li[data-kind="connected"]`, { timeout: WAIT_MS });
    await waitForValue(page, "#clients-count", "3");
    await c.exit();
    await page.waitForSelector(`#events-list li[data-kind="disconnected"]`, { timeout: WAIT_MS });
    await waitForValue(page, "#clients-count", "2");
  });

  test("sorting, filters and pages", async () => {
    // Largest first by data size.
    await page.click('#objects-table th[data-order="size"]');
    await page.waitForSelector('#objects-table th[data-order="size"].sorted.desc', { timeout: WAIT_MS });
    await waitForValue(page, "#objects-table tbody tr:first-child", b1.id, "data-id");
    const sizes = (await objectRows(page)).map((r) => r.data + r.metadata);
    expect(sizes).toEqual([...sizes].sort((x, y) => y - x));
    // Click again: smallest first.
    await page.click('#objects-table th[data-order="size"]');
    await page.waitForSelector('#objects-table th[data-order="size"].sorted:not(.desc)', {
      timeout: WAIT_MS,
    });
    const ascending = (await objectRows(page)).map((r) => r.data + r.metadata);
    expect(ascending).toEqual([...ascending].sort((x, y) => x - y));
    // Only objects being created.
    await page.selectOption("#filter-state", "created");
    await waitForValue(page, "#objects-total", "1", "data-count");
    expect((await objectRows(page)).map((r) => r.id)).toEqual([b0.id]);
    await page.selectOption("#filter-state", "all");
    // An id prefix that only a2 has.
    const others = [...made.keys(), b0.id].filter((id) => id !== a2.id);
    let prefix = a2.id.slice(0, 1);
    while (others.some((id) => id.startsWith(prefix))) prefix = a2.id.slice(0, prefix.length + 1);
    await page.fill("#filter-prefix", prefix);
    await waitForValue(page, "#objects-total", "1", "data-count");
    expect((await objectRows(page)).map((r) => r.id)).toEqual([a2.id]);
    await page.fill("#filter-prefix", "");
    await waitForValue(page, "#objects-total", "15", "data-count");
    // 10 a page: 15 objects are 10 + 5, and the two pages together are every object once.
    await page.selectOption("#page-size", "10");
    await waitForValue(page, "#page-label", "page 1 of 2");
    const first = await objectRows(page);
    expect(first.length).toBe(10);
    await page.click("#page-next");
    await waitForValue(page, "#page-label", "page 2 of 2");
    const second = await objectRows(page);
    expect(second.length).toBe(5);
    expect(new Set([...first, ...second].map((r) => r.id)).size).toBe(15);
    await page.click("#page-prev");
    await waitForValue(page, "#page-label", "page 1 of 2");
    await page.selectOption("#page-size", "25");
    await page.click('#objects-table th[data-order="create_time"]');
    await waitForValue(page, "#objects-total", "15", "data-count");
  });

  test("detail view: metadata as text and hex, and the data as a download", async () => {
    await page.click(`#objects-table tbody tr[data-id="${a1.id}"]`);
    await waitForValue(page, "#detail", a1.id, "data-id");
    await waitForValue(page, "#detail-utf8", '{"dtype":"float64","shape":[12500]}');
    expect(await page.locator("#detail-hex").textContent()).toContain("7b 22 64 74");

    await page.click(`#objects-table tbody tr[data-id="${a3.id}"]`);
    await waitForValue(page, "#detail", a3.id, "data-id");
    await waitForValue(page, "#detail-utf8", "0", "data-printable");
    expect(await page.locator("#detail-hex").textContent()).toContain("00 01 02 ff");

    await page.click(`#objects-table tbody tr[data-id="${a2.id}"]`);
    await waitForValue(page, "#detail", a2.id, "data-id");
    const [download] = await Promise.all([
      page.waitForEvent("download", { timeout: WAIT_MS }),
      page.click("#detail-download"),
    ]);
    expect(download.suggestedFilename()).toBe(`${a2.id}.bin`);
    const path = join(ARTIFACTS, `${a2.id}.bin`);
    await download.saveAs(path);
    const bytes = new Uint8Array(readFileSync(path));
    expect(bytes.length).toBe(a2.dataSizeBytes);
    expect(Buffer.compare(bytes, pattern(a2.dataSizeBytes, a2.seed))).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, "dashboard.png"), fullPage: true });
  });

  test("actions with the token: policy change (cancel, then confirm), delete, evict", async () => {
    expect(await page.locator("#actions").isVisible()).toBe(true);
    // Cancelled: nothing changes.
    await page.selectOption("#policy-select", "lfu");
    await page.click("#policy-form button[type=submit]");
    await confirm(page, /from lru to lfu/, false);
    expect((await s.admin.policy()).name).toBe("lru");
    // Confirmed: the store switches, the header and the events follow.
    await page.selectOption("#policy-select", "lfu");
    await page.click("#policy-form button[type=submit]");
    await confirm(page, /from lru to lfu/);
    await waitForValue(page, "#info-policy", "lfu");
    expect((await s.admin.policy()).name).toBe("lfu");
    await page.waitForSelector('#events-list li[data-kind="policy"]', { timeout: WAIT_MS });
    expect(await page.locator('#events-list li[data-kind="policy"] .what').first().textContent()).toBe(
      "lru → lfu",
    );
    expect(await page.locator("#action-result").textContent()).toBe("Eviction policy is now lfu (was lru).");
    // The store logged who asked.
    await s.store.waitForOutput(
      /"userAgent":"[^"]*HeadlessChrome[^"]*","method":"PUT \/v1\/policy"/,
      WAIT_MS,
    );

    // Delete a3 (nobody holds it): gone from the table and from the store.
    await page.click(`#objects-table tbody tr[data-id="${a3.id}"]`);
    await waitForValue(page, "#detail", a3.id, "data-id");
    await page.click("#detail-delete");
    await confirm(page, new RegExp(`Delete object ${a3.id}`));
    await page.waitForSelector(`#events-list li[data-kind="deleted"][data-id="${a3.id}"]`, {
      timeout: WAIT_MS,
    });
    await page.waitForSelector(`#objects-table tbody tr[data-id="${a3.id}"]`, {
      state: "detached",
      timeout: WAIT_MS,
    });
    await waitForValue(page, "#objects-total", "14", "data-count");
    await expect(s.admin.getObject(a3.id)).rejects.toThrow(/not in the store/);

    // Evict 16 KiB: the page reports what the store freed, and those objects leave the table.
    const before = await s.admin.stats();
    await page.fill("#evict-input", "16KiB");
    await page.click("#evict-form button[type=submit]");
    await confirm(page, /Evict at least 16\.0 KiB \(16384 bytes\)/);
    await page.waitForSelector("#action-result.ok", { timeout: WAIT_MS });
    const after = await s.admin.stats();
    const evicted = after.counters.evictions - before.counters.evictions;
    const freed = after.counters.evictedBytes - before.counters.evictedBytes;
    expect(freed).toBeGreaterThanOrEqual(16 * 1024);
    expect(evicted).toBeGreaterThan(0);
    const result = await page.locator("#action-result").textContent();
    expect(result).toStartWith(`Evicted ${evicted} objects, freed `);
    expect(result).toEndWith(` (${freed} bytes).`);
    await waitForValue(page, "#objects-total", String(14 - evicted), "data-count");
    // 13 sealed at the start, the live one added, a3 deleted: 13, less what was evicted.
    await waitForValue(page, "#objects-sealed", String(13 - evicted));
    await waitForValue(page, "#detail", "1", "data-gone");
    const evictedEvents = await page.locator('#events-list li[data-kind="evicted"]').count();
    expect(evictedEvents).toBe(evicted);
    // Held objects are never evicted.
    for (const id of [a1.id, a2.id, b1.id]) expect((await s.admin.getObject(id)).id).toBe(id);
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-actions.png"), fullPage: true });
  });
});
