import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { connect, ObjectID, type PlasmaClient } from "../../src/client/index.ts";
import { type AdminStore, startAdminStore } from "../admin/helpers.ts";
import { waitUntil } from "../helpers/wait.ts";
import { patternBytes, putObject, readBack, spillDir } from "../spill/helpers.ts";

// The dashboard's spill parts in headless Chromium (issue 16): objects in state `spilled` in the object
// list (and its state filter), and the disk-budget gauge with the spill counts, over a real store.

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = process.env.PLASMA_TEST_ARTIFACTS ?? mkdtempSync(join(tmpdir(), "plasma-dashboard-"));
const WAIT_MS = 60_000;
const KIB = 1024;
const DATA_BYTES = 200 * KIB;
const METADATA = new TextEncoder().encode("spilled");
const FILE_BYTES = 64 + DATA_BYTES + METADATA.length;
const BUDGET_BYTES = 1024 * KIB;

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

async function open(browser: Browser, s: AdminStore, firstId: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
  await page.goto(`http://${s.http}/#token=${s.token ?? ""}`);
  await page.waitForSelector(`#objects-table tbody tr[data-id="${firstId}"]`, { timeout: WAIT_MS });
  await page.waitForSelector('#connection[data-state="live"]', { timeout: WAIT_MS });
  return page;
}

async function rowStates(page: Page): Promise<Record<string, { state: string; className: string }>> {
  const rows = await page.$$eval("#objects-table tbody tr", (trs) =>
    trs.map((tr) => {
      const cell = tr.querySelectorAll("td")[3];
      return [
        (tr as HTMLElement).dataset.id ?? "",
        { state: (tr as HTMLElement).dataset.state ?? "", className: cell?.className ?? "" },
      ] as const;
    }),
  );
  return Object.fromEntries(rows);
}

describe("dashboard spill panel", () => {
  const dir = spillDir();
  let browser: Browser;
  let s: AdminStore;
  let plain: AdminStore;
  let client: PlasmaClient;
  const spilled = Array.from({ length: 3 }, () => ObjectID.fromRandom());
  const resident = ObjectID.fromRandom();

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    [s, plain, browser] = await Promise.all([
      startAdminStore({ memory: "1MiB", args: ["--spill-dir", dir, "--spill-max", "1MiB"] }),
      startAdminStore({ memory: "1MiB" }),
      launch(),
    ]);
    client = await connect(s.store.socketPath);
    for (const [i, id] of spilled.entries())
      await putObject(client, id, patternBytes(DATA_BYTES, i), METADATA);
    await client.evict(1024 * KIB);
    await waitUntil("three objects are spilled", async () => {
      const states = (await client.list()).map((o) => o.state);
      return states.filter((state) => state === "spilled").length === 3;
    });
    await putObject(client, resident, patternBytes(1000, 9), new Uint8Array(0));
  });

  afterAll(async () => {
    await browser?.close();
    await client?.disconnect();
    for (const store of [s, plain]) {
      if (store === undefined) continue;
      store.admin.close();
      expect(await store.store.stop()).toBe(0);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test("spilled objects are listed with their state; the gauge shows the disk used against the budget", async () => {
    const page = await open(browser, s, resident.hex());
    const states = await rowStates(page);
    for (const id of spilled)
      expect(states[id.hex()]).toEqual({ state: "spilled", className: "state-spilled" });
    expect(states[resident.hex()]).toEqual({ state: "sealed", className: "state-sealed" });

    await page.waitForSelector("#spill:not([hidden])", { timeout: WAIT_MS });
    const gauge = page.locator("#spill-gauge");
    expect(await gauge.getAttribute("data-used-bytes")).toBe(String(3 * FILE_BYTES));
    expect(await gauge.getAttribute("data-budget-bytes")).toBe(String(BUDGET_BYTES));
    expect(await page.locator("#spill-disk-used").getAttribute("data-bytes")).toBe(String(3 * FILE_BYTES));
    expect(await page.locator("#spill-budget").textContent()).toBe("1.0 MiB");
    expect(await page.locator("#spill-percent").textContent()).toBe(
      `${((100 * 3 * FILE_BYTES) / BUDGET_BYTES).toFixed(1)}% of the budget`,
    );
    expect(await page.locator("#spilled-objects").textContent()).toBe("3");
    expect(await page.locator("#spilled-bytes").getAttribute("data-bytes")).toBe(
      String(3 * (DATA_BYTES + METADATA.length)),
    );
    expect(await page.locator("#spill-restores").textContent()).toBe("0");
    expect(await page.locator("#spill-drops").textContent()).toBe("0");
    const usedWidth = await page
      .locator("#spill-gauge-used")
      .evaluate((el) => (el as HTMLElement).style.width);
    expect(Number.parseFloat(usedWidth)).toBeCloseTo((100 * 3 * FILE_BYTES) / BUDGET_BYTES, 3);
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-spill.png"), fullPage: true });

    // The state filter lists only the spilled objects.
    await page.selectOption("#filter-state", "spilled");
    await page.waitForSelector('#objects-total[data-count="3"]', { timeout: WAIT_MS });
    expect(Object.keys(await rowStates(page)).sort()).toEqual(spilled.map((id) => id.hex()).sort());

    // A get restores one: the next tick shows it.
    expect(await readBack(client, spilled[0] as ObjectID)).toEqual(patternBytes(DATA_BYTES, 0));
    await page.waitForFunction(() => document.querySelector("#spill-restores")?.textContent === "1", null, {
      timeout: WAIT_MS,
    });
    expect(await page.locator("#spilled-objects").textContent()).toBe("2");
    expect(await gauge.getAttribute("data-used-bytes")).toBe(String(2 * FILE_BYTES));
    await page.close();
  });

  test("without spilling the panel stays hidden", async () => {
    const id = ObjectID.fromRandom();
    const other = await connect(plain.store.socketPath);
    try {
      await putObject(other, id, patternBytes(100, 1), new Uint8Array(0));
      const page = await open(browser, plain, id.hex());
      expect(await page.locator("#spill").isHidden()).toBe(true);
      await page.close();
    } finally {
      await other.disconnect();
    }
  });
});
