import { join } from "node:path";
import type { ObjectID, PlasmaClient } from "../../src/client/index.ts";
import { useStore } from "../helpers/store-fixture.ts";
import type { StoreProcess } from "../helpers/store-process.ts";

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
 * Call at the top level of a test file: the shared store-and-client fixture (test/helpers), with the
 * reference-count probes the value tests use.
 */
export function useStoreAndClient(): ValuesFixture {
  const shared = useStore();
  const fixture: ValuesFixture = {
    get store(): StoreProcess {
      return shared.store;
    },
    get client(): PlasmaClient {
      return shared.client;
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
