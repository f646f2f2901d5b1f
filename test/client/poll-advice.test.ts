import { afterAll, expect, test } from "bun:test";
import { connect, ObjectID, type PlasmaClient } from "../../src/client/index.ts";
import { type StoreProcess, startStoreProcess } from "../helpers/store-process.ts";

// The store's own polling window; clients are advised twice that while fewer clients than CPUs are connected.
const STORE_POLL_US = 40;
// The store runs pinned to two CPUs, so what it advises does not depend on the machine.
const CPUS = 2;
const ADVISED = 2 * STORE_POLL_US;
const POLLING = { PLASMA_STORE_POLL_US: String(STORE_POLL_US) };

const stores: StoreProcess[] = [];
const clients: PlasmaClient[] = [];

afterAll(async () => {
  for (const client of clients) await client.disconnect();
  for (const store of stores) expect(await store.stop()).toBe(0);
});

async function open(socketPath: string): Promise<PlasmaClient> {
  const client = await connect(socketPath);
  clients.push(client);
  return client;
}

/** Advice arrives unsolicited: wait for it (a round trip lets a broadcast that is on its way land). */
async function adviceBecomes(client: PlasmaClient, us: number): Promise<number> {
  for (let i = 0; i < 100 && client.pollWindowUs !== us; i++) {
    await client.contains(ObjectID.fromRandom());
    await Bun.sleep(5);
  }
  return client.pollWindowUs;
}

test("the store advises its clients to poll while fewer clients than CPUs are connected, and says when that changes", async () => {
  const store = await startStoreProcess({ env: POLLING, cpus: CPUS });
  stores.push(store);
  const first = await open(store.socketPath);
  // The advice rides right behind the Hello reply: it is there when connect resolves.
  expect(first.pollWindowUs).toBe(ADVISED);
  // The requests still work while the client polls for their replies.
  const id = ObjectID.fromRandom();
  await first.createAndSeal(id, new Uint8Array([1, 2, 3]));
  expect([...((await first.getBuffers([id]))[0] ?? [])]).toEqual([1, 2, 3]);
  await first.release(id);

  // As many clients as CPUs: nobody polls any more.
  const more: PlasmaClient[] = [];
  while (1 + more.length < CPUS) more.push(await open(store.socketPath));
  for (const client of [first, ...more]) expect(await adviceBecomes(client, 0)).toBe(0);

  // One leaves: the rest are told to poll again.
  const leaving = more.pop() as PlasmaClient;
  await leaving.disconnect();
  for (const client of [first, ...more]) expect(await adviceBecomes(client, ADVISED)).toBe(ADVISED);
});

test("PLASMA_STORE_POLL_US=0 advises no polling; PLASMA_CLIENT_POLL_US caps what a client accepts", async () => {
  const quiet = await startStoreProcess({ env: { PLASMA_STORE_POLL_US: "0" }, cpus: CPUS });
  stores.push(quiet);
  const client = await open(quiet.socketPath);
  expect(client.pollWindowUs).toBe(0);
  expect(await client.contains(ObjectID.fromRandom())).toBe(false);

  const store = await startStoreProcess({ env: POLLING, cpus: CPUS });
  stores.push(store);
  const before = process.env.PLASMA_CLIENT_POLL_US;
  try {
    process.env.PLASMA_CLIENT_POLL_US = "0";
    expect((await open(store.socketPath)).pollWindowUs).toBe(0);
  } finally {
    if (before === undefined) delete process.env.PLASMA_CLIENT_POLL_US;
    else process.env.PLASMA_CLIENT_POLL_US = before;
  }
  // The client that turned polling off still counts as a client of the store: with it, as many clients
  // as CPUs are connected, so the next one is advised not to poll.
  const capped = await open(store.socketPath);
  expect(capped.pollWindowUs).toBe(0);
});
