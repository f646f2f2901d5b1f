import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { connect, ObjectID } from "../../src/client/index.ts";
import { useAdminStore } from "../helpers/store-fixture.ts";
import { waitUntil } from "../helpers/wait.ts";
import { type ChildProcess, fdCount, Rng, spawnChild, storeInvariants } from "./helpers.ts";

const STAGE = join(import.meta.dir, "clients/crash-stage.ts");
const CAPACITY = 8 * 1024 * 1024;

// The fixture's client is the observer: it watches the store and takes part in no crash. The admin
// plane's stats count what the data path does not show: objects being created, waiting gets and creates.
const fx = useAdminStore({ memory: String(CAPACITY) });
const stats = () => fx.admin.stats();
const clientCount = async () => (await fx.client.storeInfo()).clientCount;
let baselineFds: number;
let shared: ObjectID;
let killed = 0;

beforeAll(async () => {
  shared = ObjectID.fromRandom();
  await fx.client.createAndSeal(shared, new TextEncoder().encode("shared object"));
  await stats(); // the admin client's connection is open before the baseline is taken
  baselineFds = fdCount(fx.store.proc.pid);
});

afterAll(async () => {
  console.log(`crash tests: ${killed} client processes killed with SIGKILL`);
});

async function start(stage: string, ...args: string[]): Promise<ChildProcess> {
  const child = spawnChild(STAGE, [fx.store.socketPath, stage, ...args]);
  await child.waitForLine(/ready/);
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  await child.kill("SIGKILL");
  expect(child.proc.signalCode).toBe("SIGKILL");
  killed++;
}

/** After the kills: one client (the observer), the shared object unreferenced, nothing leaked. */
async function expectReclaimed(): Promise<void> {
  await waitUntil("only the observer is connected", async () => (await clientCount()) === 1);
  expect(await stats()).toMatchObject({
    connectedClients: 1,
    objectsSealed: 1,
    objectsCreated: 0,
    waitingGets: 0,
    waitingCreates: 0,
  });
  expect(await storeInvariants(fx.client)).toBe("ok");
  const listed = await fx.client.list();
  expect(listed.map((o) => [o.id.hex(), o.state, o.refCount])).toEqual([[shared.hex(), "sealed", 0]]);
  await waitUntil(
    "the store's descriptors are back to the baseline",
    () => fdCount(fx.store.proc.pid) === baselineFds,
  );
}

describe("SIGKILL at every stage: the store reclaims everything", () => {
  test("holding an unsealed object", async () => {
    const id = ObjectID.fromRandom();
    const child = await start("creating", id.hex(), String(1024 * 1024));
    expect(await stats()).toMatchObject({ objectsSealed: 1, objectsCreated: 1 });
    await kill(child);
    await expectReclaimed();
    // the id is free again
    await fx.client.createAndSeal(id, new Uint8Array(1));
    await fx.client.delete(id);
  });

  test("holding references to a sealed object", async () => {
    const child = await start("holding", shared.hex());
    expect((await fx.client.list())[0]?.refCount).toBe(1);
    await kill(child);
    await expectReclaimed();
  });

  test("blocked in a get", async () => {
    const child = await start("getting", ObjectID.fromRandom().hex());
    await waitUntil("the get waits", async () => (await stats()).waitingGets === 1);
    await kill(child);
    await expectReclaimed();
  });

  test("blocked in a create waiting for memory", async () => {
    const filler = ObjectID.fromRandom();
    await fx.client.create(filler, CAPACITY - 64 * 1024);
    const child = await start("waiting-create", String(1024 * 1024));
    await waitUntil("the create waits", async () => (await stats()).waitingCreates === 1);
    await kill(child);
    await fx.client.abort(filler);
    await expectReclaimed();
  });

  test("mid-frame (half a Create written)", async () => {
    const child = await start("midframe");
    await waitUntil("the raw client is connected", async () => (await clientCount()) === 2);
    await kill(child);
    await expectReclaimed();
  });

  test("subscribed; other subscribers keep receiving", async () => {
    const child = await start("subscribed");
    const subscription = await fx.client.subscribe();
    await kill(child);
    await expectReclaimed();
    const id = ObjectID.fromRandom();
    await fx.client.createAndSeal(id, new Uint8Array(3));
    const seen: string[] = [];
    for await (const note of subscription) {
      seen.push(note.id.hex());
      if (note.id.equals(id)) break;
    }
    expect(seen).toEqual([shared.hex(), id.hex()]);
    await fx.client.delete(id);
  });

  test("clients waiting on a killed creator's object keep waiting, or time out, correctly", async () => {
    const id = ObjectID.fromRandom();
    const creator = await start("creating", id.hex(), "4096");
    const waiter = await connect(fx.store.socketPath);
    let foreverDone = false;
    const forever = waiter.getBuffers([id]).then((r) => {
      foreverDone = true;
      return r;
    });
    const timed = waiter.getBuffers([id], { timeoutMs: 1500 });
    await waitUntil("both gets wait", async () => (await stats()).waitingGets === 2);
    await kill(creator);
    // the timed get ends with "not there"; the other is still waiting then
    expect(await timed).toEqual([null]);
    expect(foreverDone).toBe(false);
    expect((await stats()).waitingGets).toBe(1);
    // someone else creates the id: the waiting get gets the new object
    await fx.client.createAndSeal(id, new TextEncoder().encode("second creator"));
    const [buffer] = await forever;
    expect(new TextDecoder().decode(buffer ?? new Uint8Array())).toBe("second creator");
    await waiter.disconnect();
    await fx.client.delete(id);
    await expectReclaimed();
  });

  test("24 clients at random stages killed at once, three rounds", async () => {
    const rng = new Rng(6);
    for (let round = 0; round < 3; round++) {
      const children: ChildProcess[] = [];
      for (let i = 0; i < 24; i++) {
        const stage = rng.pick(["creating", "holding", "getting", "subscribed", "midframe"]);
        const arg = stage === "holding" ? shared.hex() : ObjectID.fromRandom().hex();
        children.push(spawnChild(STAGE, [fx.store.socketPath, stage, arg, "8192"]));
      }
      await Promise.all(children.map((c) => c.waitForLine(/ready/, 60_000)));
      expect(await clientCount()).toBe(25);
      await Promise.all(children.map(kill));
      await expectReclaimed();
    }
  });
});
