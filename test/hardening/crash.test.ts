import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { connect, ObjectID, type PlasmaClient } from "../../src/client/index.ts";
import { type StoreProcess, startStoreProcess } from "../helpers/store-process.ts";
import {
  type ChildProcess,
  type DebugFigures,
  debugFigures,
  fdCount,
  Rng,
  spawnChild,
  waitUntil,
} from "./helpers.ts";

setDefaultTimeout(180_000);

const STAGE = join(import.meta.dir, "clients/crash-stage.ts");
const CAPACITY = 8 * 1024 * 1024;

let store: StoreProcess;
let observer: PlasmaClient;
let baselineFds: number;
let shared: ObjectID;
let killed = 0;

beforeAll(async () => {
  store = await startStoreProcess({ memory: String(CAPACITY) });
  observer = await connect(store.socketPath);
  shared = ObjectID.fromRandom();
  await observer.createAndSeal(shared, new TextEncoder().encode("shared object"));
  baselineFds = fdCount(store.proc.pid);
});

afterAll(async () => {
  console.log(`crash tests: ${killed} client processes killed with SIGKILL`);
  await observer.disconnect();
  expect(await store.stop()).toBe(0);
});

async function start(stage: string, ...args: string[]): Promise<ChildProcess> {
  const child = spawnChild(STAGE, [store.socketPath, stage, ...args]);
  await child.waitForLine(/ready/);
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  await child.kill("SIGKILL");
  expect(child.proc.signalCode).toBe("SIGKILL");
  killed++;
}

/** After the kills: one client (the observer), the shared object unreferenced, nothing leaked. */
async function expectReclaimed(): Promise<DebugFigures> {
  await waitUntil("only the observer is connected", async () => (await debugFigures(observer)).clients === 1);
  const figures = await debugFigures(observer);
  expect(figures).toMatchObject({
    clients: 1,
    objects: 1,
    beingCreated: 0,
    waitingGets: 0,
    waitingCreates: 0,
    invariants: "ok",
  });
  const listed = await observer.list();
  expect(listed.map((o) => [o.id.hex(), o.state, o.refCount])).toEqual([[shared.hex(), "sealed", 0]]);
  await waitUntil(
    "the store's descriptors are back to the baseline",
    () => fdCount(store.proc.pid) === baselineFds,
  );
  return figures;
}

describe("SIGKILL at every stage: the store reclaims everything", () => {
  test("holding an unsealed object", async () => {
    const id = ObjectID.fromRandom();
    const child = await start("creating", id.hex(), String(1024 * 1024));
    expect(await debugFigures(observer)).toMatchObject({ objects: 2, beingCreated: 1 });
    await kill(child);
    await expectReclaimed();
    // the id is free again
    await observer.createAndSeal(id, new Uint8Array(1));
    await observer.delete(id);
  });

  test("holding references to a sealed object", async () => {
    const child = await start("holding", shared.hex());
    expect((await observer.list())[0]?.refCount).toBe(1);
    await kill(child);
    await expectReclaimed();
  });

  test("blocked in a get", async () => {
    const child = await start("getting", ObjectID.fromRandom().hex());
    await waitUntil("the get waits", async () => (await debugFigures(observer)).waitingGets === 1);
    await kill(child);
    await expectReclaimed();
  });

  test("blocked in a create waiting for memory", async () => {
    const filler = ObjectID.fromRandom();
    await observer.create(filler, CAPACITY - 64 * 1024);
    const child = await start("waiting-create", String(1024 * 1024));
    await waitUntil("the create waits", async () => (await debugFigures(observer)).waitingCreates === 1);
    await kill(child);
    await observer.abort(filler);
    await expectReclaimed();
  });

  test("mid-frame (half a Create written)", async () => {
    const child = await start("midframe");
    await waitUntil("the raw client is connected", async () => (await debugFigures(observer)).clients === 2);
    await kill(child);
    await expectReclaimed();
  });

  test("subscribed; other subscribers keep receiving", async () => {
    const child = await start("subscribed");
    const subscription = await observer.subscribe();
    await kill(child);
    await expectReclaimed();
    const id = ObjectID.fromRandom();
    await observer.createAndSeal(id, new Uint8Array(3));
    const seen: string[] = [];
    for await (const note of subscription) {
      seen.push(note.id.hex());
      if (note.id.equals(id)) break;
    }
    expect(seen).toEqual([shared.hex(), id.hex()]);
    await observer.delete(id);
  });

  test("clients waiting on a killed creator's object keep waiting, or time out, correctly", async () => {
    const id = ObjectID.fromRandom();
    const creator = await start("creating", id.hex(), "4096");
    const waiter = await connect(store.socketPath);
    let foreverDone = false;
    const forever = waiter.getBuffers([id]).then((r) => {
      foreverDone = true;
      return r;
    });
    const timed = waiter.getBuffers([id], { timeoutMs: 1500 });
    await waitUntil("both gets wait", async () => (await debugFigures(observer)).waitingGets === 2);
    await kill(creator);
    // the timed get ends with "not there"; the other is still waiting then
    expect(await timed).toEqual([null]);
    expect(foreverDone).toBe(false);
    expect((await debugFigures(observer)).waitingGets).toBe(1);
    // someone else creates the id: the waiting get gets the new object
    await observer.createAndSeal(id, new TextEncoder().encode("second creator"));
    const [buffer] = await forever;
    expect(new TextDecoder().decode(buffer ?? new Uint8Array())).toBe("second creator");
    await waiter.disconnect();
    await observer.delete(id);
    await expectReclaimed();
  });

  test("24 clients at random stages killed at once, three rounds", async () => {
    const rng = new Rng(6);
    for (let round = 0; round < 3; round++) {
      const children: ChildProcess[] = [];
      for (let i = 0; i < 24; i++) {
        const stage = rng.pick(["creating", "holding", "getting", "subscribed", "midframe"]);
        const arg = stage === "holding" ? shared.hex() : ObjectID.fromRandom().hex();
        children.push(spawnChild(STAGE, [store.socketPath, stage, arg, "8192"]));
      }
      await Promise.all(children.map((c) => c.waitForLine(/ready/, 60_000)));
      expect((await debugFigures(observer)).clients).toBe(25);
      await Promise.all(children.map(kill));
      await expectReclaimed();
    }
  });
});
