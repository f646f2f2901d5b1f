import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import {
  type InProcessPlane,
  MemoryClusterDirectory,
  startInProcessPlane,
} from "../admin/cluster-fixture.ts";
import { hexId } from "../admin/helpers.ts";

// The dashboard's cluster panel and "also on" line in headless Chromium, over the admin plane in this
// process with an in-memory directory (the daemon's etcd wiring is tested end to end separately).

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = process.env.PLASMA_TEST_ARTIFACTS ?? mkdtempSync(join(tmpdir(), "plasma-dashboard-"));
const WAIT_MS = 60_000;
const GIB = 1024 ** 3;
const SHARED = hexId(0x5a);
const ONLY_HERE = hexId(0x5b);

async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run .ci/install-system-deps (apt-get install chromium).`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
}

async function openDashboard(browser: Browser, p: InProcessPlane): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
  await page.goto(`http://${p.http}/#token=${p.token}`);
  await page.waitForSelector(`#objects-table tbody tr[data-id="${SHARED}"]`, { timeout: WAIT_MS });
  return page;
}

/** Clicks an object's row and waits for its detail (and, with a cluster, its locations) to load. */
async function select(page: Page, id: string, located: boolean): Promise<void> {
  await page.click(`#objects-table tbody tr[data-id="${id}"]`);
  await page.waitForSelector(`#detail[data-id="${id}"]`, { timeout: WAIT_MS });
  if (located) await page.waitForSelector("#detail-also-on[data-loaded]", { timeout: WAIT_MS });
}

async function nodeRows(page: Page): Promise<{ node: string; self: string; cells: string[] }[]> {
  return page.$$eval("#cluster-table tbody tr", (rows) =>
    rows.map((tr) => ({
      node: (tr as HTMLElement).dataset.node ?? "",
      self: (tr as HTMLElement).dataset.self ?? "",
      cells: [...tr.querySelectorAll("td")].map((td) => td.textContent ?? ""),
    })),
  );
}

describe("dashboard cluster panel", () => {
  let browser: Browser;
  const dir = new MemoryClusterDirectory("prod", "node-a", "10.0.0.11:50052", ["http://10.0.0.5:2379"]);
  let on: InProcessPlane;
  let off: InProcessPlane;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    dir.addNode({
      name: "node-a",
      transferAddress: "10.0.0.11:50052",
      capacityBytes: 4 * GIB,
      usedBytes: GIB,
      startTimeMs: Date.now(),
    });
    dir.addNode({
      name: "node-b",
      transferAddress: "10.0.0.12:50052",
      capacityBytes: 2 * GIB,
      usedBytes: 0,
      startTimeMs: Date.now(),
    });
    dir.addNode({
      name: "node-c",
      transferAddress: "10.0.0.13:50052",
      capacityBytes: GIB,
      usedBytes: 512 * 1024 ** 2,
      startTimeMs: Date.now(),
    });
    for (const node of ["node-a", "node-b", "node-c"]) dir.hold(SHARED, node);
    dir.hold(ONLY_HERE, "node-a");
    [on, off] = await Promise.all([startInProcessPlane(dir), startInProcessPlane(undefined)]);
    for (const p of [on, off]) {
      p.put(SHARED, 4096, 1);
      p.put(ONLY_HERE, 100, 2);
    }
    browser = await launch();
  });

  afterAll(async () => {
    await browser?.close();
    on?.stop();
    off?.stop();
  });

  test("lists the nodes, marks this one, and shows where else an object lives", async () => {
    const page = await openDashboard(browser, on);
    await page.waitForSelector("#cluster:not([hidden])", { timeout: WAIT_MS });
    expect(await page.locator("#cluster-name").textContent()).toBe(
      "prod · this store is node-a (10.0.0.11:50052) · etcd http://10.0.0.5:2379",
    );
    expect(await page.locator("#cluster-count").textContent()).toBe("3 nodes");
    const rows = await nodeRows(page);
    expect(rows.map((r) => [r.node, r.self])).toEqual([
      ["node-a", "1"],
      ["node-b", "0"],
      ["node-c", "0"],
    ]);
    expect(rows[0]?.cells.slice(0, 4)).toEqual([
      "node-a this store",
      "10.0.0.11:50052",
      "1.0 GiB (25.0%)",
      "4.0 GiB",
    ]);
    expect(rows[2]?.cells.slice(1, 4)).toEqual(["10.0.0.13:50052", "512.0 MiB (50.0%)", "1.0 GiB"]);

    await select(page, SHARED, true);
    expect(await page.locator("#detail-cluster").isVisible()).toBe(true);
    expect(await page.locator("#detail-also-on").textContent()).toBe("node-b, node-c");
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-cluster.png"), fullPage: true });
    await select(page, ONLY_HERE, true);
    expect(await page.locator("#detail-also-on").textContent()).toBe("no other node");

    // A node joining shows up on the panel's next refresh, without reloading the page.
    dir.addNode({
      name: "node-d",
      transferAddress: "10.0.0.14:50052",
      capacityBytes: GIB,
      usedBytes: 0,
      startTimeMs: Date.now(),
    });
    await page.waitForSelector('#cluster-count[data-count="4"]', { timeout: WAIT_MS });
    expect((await nodeRows(page)).map((r) => r.node)).toEqual(["node-a", "node-b", "node-c", "node-d"]);

    // The directory going away is said on the panel, not as a broken page.
    dir.unreachable = true;
    try {
      await page.waitForSelector("#cluster-error:not([hidden])", { timeout: WAIT_MS });
      expect(await page.locator("#cluster-error").textContent()).toContain("did not answer");
    } finally {
      dir.unreachable = false;
    }
    await page.close();
  });

  test("without a cluster the panel and the also-on line stay hidden", async () => {
    const page = await openDashboard(browser, off);
    await page.waitForSelector('#connection[data-state="live"]', { timeout: WAIT_MS });
    await select(page, SHARED, false);
    expect(await page.locator("#cluster").isHidden()).toBe(true);
    expect(await page.locator("#detail-cluster").isHidden()).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-no-cluster.png"), fullPage: true });
    await page.close();
  });
});
