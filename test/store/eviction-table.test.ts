import { describe, expect, test } from "bun:test";
import type { EvictionPolicyName } from "../../src/store/eviction/index.ts";
import { type CreateSpec, StoreCore } from "../../src/store/store.ts";
import { FakeClock } from "./fake-clock.ts";

/**
 * The policies as the store runs them: over the object table, which owns each object's size, seal order
 * and use count (the policy keeps none of them). Same pattern as eviction.test.ts: sealed a, b, c, d,
 * then a used 3 times, d once, b twice, c once.
 */

const CRED = { pid: 1, uid: 0, gid: 0 };
const NAMES = ["a", "b", "c", "d"] as const;
const USES: readonly (readonly [(typeof NAMES)[number], number])[] = [
  ["a", 3],
  ["d", 1],
  ["b", 2],
  ["c", 1],
];
const EXPECTED_ORDER: Record<"lru" | "fifo" | "lfu", string[]> = {
  fifo: ["a", "b", "c", "d"],
  lru: ["a", "d", "b", "c"],
  lfu: ["d", "c", "b", "a"],
};

function spec(name: string): CreateSpec {
  const id = new Uint8Array(20);
  id[0] = name.charCodeAt(0);
  return { id, key: String.fromCharCode(...id), dataSize: 1000, metadataSize: 0 };
}

function nameOf(key: string): string {
  return String.fromCharCode(key.charCodeAt(0));
}

function applyPattern(policy: EvictionPolicyName): { core: StoreCore; client: number } {
  const core = new StoreCore({ capacityBytes: 100_000, clock: new FakeClock(), evictionPolicy: policy });
  const client = core.connectClient(CRED).id;
  for (const name of NAMES) {
    const { key } = core.create(client, spec(name));
    core.seal(client, key);
    core.release(client, key, 1);
  }
  for (const [name, times] of USES) {
    const { key } = spec(name);
    for (let use = 0; use < times; use++) {
      core.get(client, [key], 0, () => {});
      core.release(client, key, 1);
    }
  }
  return { core, client };
}

/** Evicts everything; the names in eviction order. */
function evictionOrder(core: StoreCore): string[] {
  const order: string[] = [];
  const stop = core.onEvent((event) => {
    if (event.kind === "object_evicted") order.push(nameOf(event.entry.key));
  });
  core.evict(Number.MAX_SAFE_INTEGER);
  stop();
  return order;
}

describe("eviction policies over the object table", () => {
  test("each policy evicts the pattern in its own order; accessCount counts the create and every get", () => {
    for (const name of ["lru", "fifo", "lfu"] as const) {
      const { core } = applyPattern(name);
      const counts = Object.fromEntries(core.list().map((entry) => [nameOf(entry.key), entry.accessCount]));
      expect(counts).toEqual({ a: 4, b: 3, c: 2, d: 2 });
      core.checkInvariants();
      expect(evictionOrder(core)).toEqual(EXPECTED_ORDER[name]);
      core.checkInvariants();
    }
  });

  test("a run-time switch orders by the history recorded under the previous policies", () => {
    for (const to of ["lru", "fifo", "lfu"] as const) {
      for (const from of ["lru", "fifo", "lfu", "none"] as const) {
        const { core, client } = applyPattern(from);
        // b is held across the switch: not evictable, and its uses so far still count.
        const b = spec("b").key;
        core.get(client, [b], 0, () => {});
        core.setEvictionPolicy("none");
        core.setEvictionPolicy(to);
        core.checkInvariants();
        const withoutB = EXPECTED_ORDER[to].filter((name) => name !== "b");
        expect(evictionOrder(core)).toEqual(withoutB);
        core.release(client, b, 1);
        expect(evictionOrder(core)).toEqual(["b"]);
        core.checkInvariants();
      }
    }
  });
});
