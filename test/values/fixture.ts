import { afterAll, beforeAll, setDefaultTimeout } from "bun:test";
import { join } from "node:path";
import { connect, type ObjectID, type PlasmaClient } from "../../src/client/index.ts";
import { type StoreProcess, startStoreProcess } from "../helpers/store-process.ts";

/** The client programs that the value tests run as separate processes. */
export const CLIENTS = join(import.meta.dir, "clients");

/** One store process and one connected client, shared by the tests of a file. */
export interface ValuesFixture {
  readonly store: StoreProcess;
  readonly client: PlasmaClient;
  /** The object's reference count in the store (undefined once it is gone). */
  refCountOf(id: ObjectID): Promise<number | undefined>;
  /** Runs GC until the store counts `count` references to the object (finalizers run asynchronously). */
  refCountBecomes(id: ObjectID, count: number | undefined): Promise<number | undefined>;
}

/**
 * Call at the top level of a test file: sets the file's default timeout, starts a store process and
 * connects a client before its tests, and disconnects the client and stops the store after them.
 */
export function useStoreAndClient(): ValuesFixture {
  setDefaultTimeout(120_000);
  let store: StoreProcess | undefined;
  let client: PlasmaClient | undefined;

  beforeAll(async () => {
    store = await startStoreProcess();
    client = await connect(store.socketPath);
  });
  afterAll(async () => {
    await client?.disconnect();
    await store?.stop();
  });

  const fixture: ValuesFixture = {
    get store(): StoreProcess {
      if (store === undefined) throw new Error("the store is started in beforeAll: use it inside a test");
      return store;
    },
    get client(): PlasmaClient {
      if (client === undefined) throw new Error("the client connects in beforeAll: use it inside a test");
      return client;
    },
    async refCountOf(id) {
      return (await fixture.client.list()).find((o) => o.id.equals(id))?.refCount;
    },
    async refCountBecomes(id, count) {
      for (let i = 0; i < 500 && (await fixture.refCountOf(id)) !== count; i++) {
        Bun.gc(true);
        await Bun.sleep(20);
      }
      return fixture.refCountOf(id);
    },
  };
  return fixture;
}
