import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  createEvictionPolicy,
  EVICTION_POLICY_NAMES,
  type EvictionPolicy,
  type EvictionPolicyName,
  isEvictionPolicyName,
  migratePolicy,
} from "../../src/store/eviction/index.ts";
import type { TrackingEvictionPolicy } from "../../src/store/eviction/tracking.ts";

const EVICTING_POLICIES: readonly EvictionPolicyName[] = ["lru", "fifo", "lfu"];

function checkInvariants(policy: EvictionPolicy): void {
  (policy as TrackingEvictionPolicy).checkInvariants();
}

/** Seals a key and makes it evictable, as the store does when no one holds it after seal. */
function sealUnheld(policy: EvictionPolicy, key: string, sizeBytes: number): void {
  policy.objectSealed(key, sizeBytes);
  policy.accessEnded(key);
}

function use(policy: EvictionPolicy, key: string, times = 1): void {
  for (let index = 0; index < times; index++) {
    policy.accessBegan(key);
    policy.accessEnded(key);
  }
}

/**
 * Sealed a, b, c, d in that order; then a used 3 times, d once, b twice, c once (last).
 * FIFO: seal order a b c d. LRU: last use a d b c. LFU: counts a3 b2 c1 d1, tie c/d -> d (less recent).
 */
function applyPattern(policy: EvictionPolicy): void {
  sealUnheld(policy, "a", 100);
  sealUnheld(policy, "b", 200);
  sealUnheld(policy, "c", 300);
  sealUnheld(policy, "d", 400);
  use(policy, "a", 3);
  use(policy, "d", 1);
  use(policy, "b", 2);
  use(policy, "c", 1);
}

const EXPECTED_ORDER: Record<Exclude<EvictionPolicyName, "none">, string[]> = {
  fifo: ["a", "b", "c", "d"],
  lru: ["a", "d", "b", "c"],
  lfu: ["d", "c", "b", "a"],
};

describe("eviction policies: orders", () => {
  test("policy names: each listed name makes its own policy, and only those names are accepted", () => {
    expect([...EVICTION_POLICY_NAMES]).toEqual(["lru", "fifo", "lfu", "none"]);
    const kinds = new Set<unknown>();
    for (const name of EVICTION_POLICY_NAMES) {
      const policy = createEvictionPolicy(name);
      expect(policy.name).toBe(name);
      expect(isEvictionPolicyName(name)).toBe(true);
      kinds.add(Object.getPrototypeOf(policy));
    }
    expect(kinds.size).toBe(EVICTION_POLICY_NAMES.length);
    for (const name of ["LRU", "random", "", "lru "]) expect(isEvictionPolicyName(name)).toBe(false);
  });

  test("the same access pattern gives three different, correct orders", () => {
    const orders = new Set<string>();
    for (const name of EVICTING_POLICIES) {
      const policy = createEvictionPolicy(name);
      applyPattern(policy);
      const expected = EXPECTED_ORDER[name as keyof typeof EXPECTED_ORDER];
      const chosen = policy.chooseVictims(Number.POSITIVE_INFINITY);
      expect(chosen).toEqual(expected);
      expect(policy.chooseVictims(1000)).toEqual(expected);
      // Prefixes: stop as soon as the sizes reach bytesNeeded.
      const firstSize = { a: 100, b: 200, c: 300, d: 400 }[expected[0] as "a"];
      expect(policy.chooseVictims(firstSize)).toEqual(expected.slice(0, 1));
      expect(policy.chooseVictims(firstSize + 1)).toEqual(expected.slice(0, 2));
      orders.add(chosen.join(""));
      checkInvariants(policy);
    }
    expect(orders.size).toBe(3);
  });

  test("chooseVictims(1) returns exactly one victim; bytesNeeded <= 0 returns none", () => {
    for (const name of EVICTING_POLICIES) {
      const policy = createEvictionPolicy(name);
      applyPattern(policy);
      expect(policy.chooseVictims(1)).toHaveLength(1);
      expect(policy.chooseVictims(0)).toEqual([]);
      expect(policy.chooseVictims(-5)).toEqual([]);
    }
  });

  test("chooseVictims does not remove: the store reports evictions with objectRemoved", () => {
    for (const name of EVICTING_POLICIES) {
      const policy = createEvictionPolicy(name);
      applyPattern(policy);
      const expected = EXPECTED_ORDER[name as keyof typeof EXPECTED_ORDER];
      expect(policy.chooseVictims(1)).toEqual(expected.slice(0, 1));
      expect(policy.chooseVictims(1)).toEqual(expected.slice(0, 1));
      policy.objectRemoved(expected[0] ?? "");
      expect(policy.chooseVictims(1)).toEqual(expected.slice(1, 2));
      expect(policy.evictableCount).toBe(3);
    }
  });

  test("held objects are never chosen", () => {
    for (const name of EVICTING_POLICIES) {
      const policy = createEvictionPolicy(name);
      applyPattern(policy);
      policy.accessBegan("a");
      policy.accessBegan("d");
      const victims = policy.chooseVictims(Number.POSITIVE_INFINITY);
      expect(victims).not.toContain("a");
      expect(victims).not.toContain("d");
      expect(victims.sort()).toEqual(["b", "c"]);
      expect(policy.evictableCount).toBe(2);
      expect(policy.evictableBytes).toBe(500);
      // Sealed but accessEnded never called: not evictable either.
      policy.objectSealed("e", 10);
      expect(policy.chooseVictims(Number.POSITIVE_INFINITY)).not.toContain("e");
      checkInvariants(policy);
    }
  });

  test("FIFO: a held object comes back at its seal position; LRU: at the most recent end", () => {
    const fifo = createEvictionPolicy("fifo");
    const lru = createEvictionPolicy("lru");
    for (const policy of [fifo, lru]) {
      for (const key of ["x", "y", "z"]) sealUnheld(policy, key, 1);
      policy.accessBegan("x");
      expect(policy.chooseVictims(10)).toEqual(["y", "z"]);
      policy.accessEnded("x");
    }
    expect(fifo.chooseVictims(10)).toEqual(["x", "y", "z"]);
    expect(lru.chooseVictims(10)).toEqual(["y", "z", "x"]);
  });

  test("LFU: repeated get hits while held count as uses", () => {
    const policy = createEvictionPolicy("lfu");
    sealUnheld(policy, "p", 1);
    sealUnheld(policy, "q", 1);
    use(policy, "p", 1);
    policy.accessBegan("q");
    policy.accessBegan("q");
    policy.accessEnded("q");
    expect(policy.chooseVictims(10)).toEqual(["p", "q"]);
  });

  test("none never chooses and reports nothing evictable", () => {
    const policy = createEvictionPolicy("none");
    applyPattern(policy);
    expect(policy.chooseVictims(1)).toEqual([]);
    expect(policy.chooseVictims(Number.POSITIVE_INFINITY)).toEqual([]);
    expect(policy.evictableCount).toBe(0);
    expect(policy.evictableBytes).toBe(0);
    expect(policy.objectCount).toBe(4);
    checkInvariants(policy);
  });
});

describe("eviction policies: bookkeeping", () => {
  test("objectRemoved, accessBegan and accessEnded of unknown keys are harmless", () => {
    for (const name of EVICTION_POLICY_NAMES) {
      const policy = createEvictionPolicy(name);
      policy.objectRemoved("never-seen");
      policy.accessBegan("never-seen");
      policy.accessEnded("never-seen");
      sealUnheld(policy, "k", 5);
      policy.objectRemoved("k");
      policy.objectRemoved("k");
      expect(policy.objectCount).toBe(0);
      expect(policy.evictableCount).toBe(0);
      expect(policy.chooseVictims(1)).toEqual([]);
      checkInvariants(policy);
    }
  });

  test("evictableBytes and evictableCount follow seal, hold, release and removal", () => {
    for (const name of EVICTING_POLICIES) {
      const policy = createEvictionPolicy(name);
      policy.objectSealed("a", 1000);
      expect([policy.evictableCount, policy.evictableBytes]).toEqual([0, 0]);
      policy.accessEnded("a");
      expect([policy.evictableCount, policy.evictableBytes]).toEqual([1, 1000]);
      sealUnheld(policy, "b", 24);
      expect([policy.evictableCount, policy.evictableBytes]).toEqual([2, 1024]);
      policy.accessBegan("a");
      expect([policy.evictableCount, policy.evictableBytes]).toEqual([1, 24]);
      policy.accessEnded("a");
      policy.accessEnded("a"); // repeated release: no double count
      expect([policy.evictableCount, policy.evictableBytes]).toEqual([2, 1024]);
      policy.objectRemoved("b");
      expect([policy.evictableCount, policy.evictableBytes]).toEqual([1, 1000]);
      policy.accessBegan("a");
      policy.objectRemoved("a"); // removal while held
      expect([policy.evictableCount, policy.evictableBytes, policy.objectCount]).toEqual([0, 0, 0]);
      checkInvariants(policy);
    }
  });

  test("programming errors throw", () => {
    const policy = createEvictionPolicy("lru");
    policy.objectSealed("a", 1);
    expect(() => policy.objectSealed("a", 1)).toThrow();
    expect(() => policy.objectSealed("b", -1)).toThrow();
    expect(() => policy.objectSealed("b", 1.5)).toThrow();
    expect(() => policy.chooseVictims(Number.NaN)).toThrow();
    expect(() =>
      createEvictionPolicy("lru", [
        { key: "x", sizeBytes: 1, evictable: true, sealOrder: 1, lastUseOrder: 1, accessCount: 0 },
        { key: "x", sizeBytes: 1, evictable: true, sealOrder: 2, lastUseOrder: 2, accessCount: 0 },
      ]),
    ).toThrow();
  });

  test("migratePolicy keeps every object and its history", () => {
    for (const from of EVICTION_POLICY_NAMES) {
      const source = createEvictionPolicy(from);
      applyPattern(source);
      source.accessBegan("b"); // held across the switch
      for (const to of EVICTING_POLICIES) {
        const target = migratePolicy(source, to);
        expect(target.name).toBe(to);
        expect(target.objectCount).toBe(4);
        expect(target.evictableCount).toBe(3);
        expect(target.evictableBytes).toBe(800);
        const expected = EXPECTED_ORDER[to as keyof typeof EXPECTED_ORDER].filter((key) => key !== "b");
        expect(target.chooseVictims(Number.POSITIVE_INFINITY)).toEqual(expected);
        target.accessEnded("b");
        expect(target.evictableBytes).toBe(1000);
        checkInvariants(target);
      }
      const none = migratePolicy(source, "none");
      expect(none.objectCount).toBe(4);
      expect(none.chooseVictims(1)).toEqual([]);
      // Back from none: the history survived the stay in "none".
      const back = migratePolicy(none, "lfu");
      expect(back.chooseVictims(Number.POSITIVE_INFINITY)).toEqual(["d", "c", "a"]);
    }
  });

  test("createEvictionPolicy accepts external orders such as timestamps, with ties", () => {
    const policy = createEvictionPolicy("lru", [
      {
        key: "late",
        sizeBytes: 1,
        evictable: true,
        sealOrder: 1_700_000_000_000,
        lastUseOrder: 5e12,
        accessCount: 2,
      },
      {
        key: "early",
        sizeBytes: 1,
        evictable: true,
        sealOrder: 1_700_000_000_000,
        lastUseOrder: 4e12,
        accessCount: 9,
      },
      { key: "held", sizeBytes: 1, evictable: false, sealOrder: 1, lastUseOrder: 1, accessCount: 0 },
    ]);
    expect(policy.chooseVictims(10)).toEqual(["early", "late"]);
    expect(policy.snapshot().map((state) => state.key)).toEqual(["held", "late", "early"]);
    policy.accessEnded("held");
    expect(policy.chooseVictims(10)).toEqual(["early", "late", "held"]);
  });
});

// ---------------------------------------------------------------------------------------------------
// Property: random event sequences against a simple model (full scans, sorts).

type Event =
  | { kind: "seal"; key: number; sizeBytes: number }
  | { kind: "begin"; key: number }
  | { kind: "end"; key: number }
  | { kind: "remove"; key: number }
  | { kind: "choose"; bytesNeeded: number }
  | { kind: "migrate"; to: EvictionPolicyName };

interface ModelObject {
  sizeBytes: number;
  evictable: boolean;
  sealOrder: number;
  lastUseOrder: number;
  accessCount: number;
}

class Model {
  readonly objects = new Map<string, ModelObject>();
  private clock = 0;

  seal(key: string, sizeBytes: number): void {
    this.clock += 1;
    this.objects.set(key, {
      sizeBytes,
      evictable: false,
      sealOrder: this.clock,
      lastUseOrder: this.clock,
      accessCount: 0,
    });
  }

  begin(key: string): void {
    const object = this.objects.get(key);
    if (object === undefined) return;
    this.clock += 1;
    object.evictable = false;
    object.accessCount += 1;
    object.lastUseOrder = this.clock;
  }

  end(key: string): void {
    const object = this.objects.get(key);
    if (object === undefined) return;
    this.clock += 1;
    object.evictable = true;
    object.lastUseOrder = this.clock;
  }

  evictable(name: EvictionPolicyName): { count: number; bytes: number } {
    if (name === "none") return { count: 0, bytes: 0 };
    let count = 0;
    let bytes = 0;
    for (const object of this.objects.values()) {
      if (object.evictable) {
        count += 1;
        bytes += object.sizeBytes;
      }
    }
    return { count, bytes };
  }

  victims(name: EvictionPolicyName, bytesNeeded: number): string[] {
    if (name === "none" || bytesNeeded <= 0) return [];
    const candidates = [...this.objects.entries()].filter(([, object]) => object.evictable);
    const byKey: Record<Exclude<EvictionPolicyName, "none">, (a: ModelObject, b: ModelObject) => number> = {
      lru: (a, b) => a.lastUseOrder - b.lastUseOrder,
      fifo: (a, b) => a.sealOrder - b.sealOrder,
      lfu: (a, b) => a.accessCount - b.accessCount || a.lastUseOrder - b.lastUseOrder,
    };
    candidates.sort(([, a], [, b]) => byKey[name](a, b));
    const victims: string[] = [];
    let total = 0;
    for (const [key, object] of candidates) {
      if (total >= bytesNeeded) break;
      victims.push(key);
      total += object.sizeBytes;
    }
    return victims;
  }
}

const KEY_COUNT = 12;
const eventArbitrary: fc.Arbitrary<Event> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("seal" as const),
      key: fc.integer({ min: 0, max: KEY_COUNT - 1 }),
      sizeBytes: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 2 ** 40 })),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("begin" as const), key: fc.nat(KEY_COUNT - 1) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("end" as const), key: fc.nat(KEY_COUNT - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("remove" as const), key: fc.nat(KEY_COUNT + 2) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("choose" as const),
      bytesNeeded: fc.oneof(fc.integer({ min: -1, max: 300 }), fc.integer({ min: 0, max: 2 ** 42 })),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("migrate" as const),
      to: fc.constantFrom(...EVICTION_POLICY_NAMES),
    }),
  },
);

describe("eviction policies: model property", () => {
  test("random event sequences match the model (counts, bytes, victim order, migrations)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...EVICTION_POLICY_NAMES),
        fc.array(eventArbitrary, { maxLength: 200, size: "max" }),
        (initialName, events) => {
          let policy = createEvictionPolicy(initialName);
          const model = new Model();
          for (const event of events) {
            switch (event.kind) {
              case "seal": {
                const key = `k${event.key}`;
                if (model.objects.has(key)) {
                  expect(() => policy.objectSealed(key, event.sizeBytes)).toThrow();
                } else {
                  policy.objectSealed(key, event.sizeBytes);
                  model.seal(key, event.sizeBytes);
                }
                break;
              }
              case "begin":
                policy.accessBegan(`k${event.key}`);
                model.begin(`k${event.key}`);
                break;
              case "end":
                policy.accessEnded(`k${event.key}`);
                model.end(`k${event.key}`);
                break;
              case "remove":
                policy.objectRemoved(`k${event.key}`);
                model.objects.delete(`k${event.key}`);
                break;
              case "choose":
                expect(policy.chooseVictims(event.bytesNeeded)).toEqual(
                  model.victims(policy.name, event.bytesNeeded),
                );
                break;
              case "migrate":
                policy = migratePolicy(policy, event.to);
                break;
            }
            const expected = model.evictable(policy.name);
            expect(policy.evictableCount).toBe(expected.count);
            expect(policy.evictableBytes).toBe(expected.bytes);
            expect(policy.objectCount).toBe(model.objects.size);
            checkInvariants(policy);
          }
          // Final full order check.
          expect(policy.chooseVictims(Number.POSITIVE_INFINITY)).toEqual(
            model.victims(policy.name, Number.POSITIVE_INFINITY),
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  test("10k objects through 50k uses and 3k evictions: victims come in policy order", () => {
    const keyCount = 10_000;
    const useCount = 50_000;
    // 7919 is prime to 10k: every object is used exactly 5 times, last in the order of the final 10k uses
    const usedKey = (round: number) => `o${(round * 7919) % keyCount}`;
    const lastUseOrder = Array.from({ length: keyCount }, (_, i) => usedKey(useCount - keyCount + i));
    const sealOrder = Array.from({ length: keyCount }, (_, i) => `o${i}`);
    // equal use counts: LFU breaks the tie by recency, as LRU orders
    const expectedOrder: Record<string, string[]> = { fifo: sealOrder, lru: lastUseOrder, lfu: lastUseOrder };
    for (const name of EVICTING_POLICIES) {
      const policy = createEvictionPolicy(name);
      for (const key of sealOrder) sealUnheld(policy, key, 100);
      for (let round = 0; round < useCount; round++) use(policy, usedKey(round));
      const evicted: string[] = [];
      for (let round = 0; round < 1000; round++) {
        const victims = policy.chooseVictims(250);
        expect(victims).toHaveLength(3);
        for (const key of victims) policy.objectRemoved(key);
        evicted.push(...victims);
      }
      expect(evicted).toEqual((expectedOrder[name] as string[]).slice(0, 3000));
      expect(policy.evictableCount).toBe(7000);
      expect(policy.chooseVictims(Number.POSITIVE_INFINITY)).toEqual(
        (expectedOrder[name] as string[]).slice(3000),
      );
      checkInvariants(policy);
    }
  });
});
