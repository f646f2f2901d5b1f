import { describe, expect, test } from "bun:test";
import { ObjectID, StoreFullError } from "../../src/client/index.ts";
import { useAdminStore } from "../helpers/store-fixture.ts";
import { pattern } from "./helpers.ts";

describe("eviction policies through the admin plane", () => {
  const s = useAdminStore({ memory: "8MiB", args: ["--eviction", "fifo"] });

  /** Seals A, B, C, D (in that order), then uses A twice and B once; returns the ids in that order. */
  async function accessPattern(): Promise<string[]> {
    const ids = [0, 1, 2, 3].map(() => ObjectID.fromRandom());
    for (const [i, id] of ids.entries()) await s.client.createAndSeal(id, pattern(1000, i));
    const [a, b] = ids as [ObjectID, ObjectID];
    for (const id of [a, a, b]) {
      const [buffer] = await s.client.getBuffers([id], { timeoutMs: 0 });
      expect(buffer?.length).toBe(1000);
      await s.client.release(id);
      // A round trip on the same connection: the release above has reached the store.
      expect(await s.client.contains(id)).toBe(true);
    }
    return ids.map((id) => id.hex());
  }

  test("--eviction sets the first policy", async () => {
    expect((await s.admin.info()).evictionPolicy).toBe("fifo");
    const policy = await s.admin.policy();
    expect(policy.name).toBe("fifo");
    expect(policy.available).toEqual(["lru", "fifo", "lfu", "none"]);
  });

  test("LRU, FIFO and LFU evict the same access pattern in their own orders, switched at run time", async () => {
    const orders: Record<string, string[]> = {};
    for (const name of ["lru", "fifo", "lfu"]) {
      const switched = await s.admin.setPolicy(name);
      expect(switched.name).toBe(name);
      const [a, b, c, d] = (await accessPattern()) as [string, string, string, string];
      const before = await s.admin.stats();
      const result = await s.admin.evict(8 * 1024 * 1024);
      expect(result.freedBytes).toBe(4000);
      const order = result.evicted.map((o) => o.id);
      orders[name] = order.map((id) => "ABCD"[[a, b, c, d].indexOf(id)] ?? `unexpected ${id}`);
      const after = await s.admin.stats();
      expect(after.counters.evictions - before.counters.evictions).toBe(4);
      expect(after.counters.evictedBytes - before.counters.evictedBytes).toBe(4000);
      expect(after.objectsSealed).toBe(0);
    }
    // LRU: least recently used first (C, D never used after sealing; A before B).
    expect(orders.lru).toEqual(["C", "D", "A", "B"]);
    // FIFO: seal order, uses do not matter.
    expect(orders.fifo).toEqual(["A", "B", "C", "D"]);
    // LFU: fewest uses first (C and D none, B one, A two).
    expect(orders.lfu).toEqual(["C", "D", "B", "A"]);
  });

  test("none never evicts: creates fail with store full until the policy allows eviction again", async () => {
    await s.admin.setPolicy("none");
    const chunk = 1024 * 1024;
    const ids: ObjectID[] = [];
    let full: unknown = null;
    for (let i = 0; i < 16 && full === null; i++) {
      const id = ObjectID.fromRandom();
      try {
        await s.client.createAndSeal(id, pattern(chunk, i));
        ids.push(id);
      } catch (error) {
        full = error;
      }
    }
    expect(full).toBeInstanceOf(StoreFullError);
    expect(ids.length).toBeGreaterThanOrEqual(6);
    const stats = await s.admin.stats();
    expect(stats.counters.storeFullErrors).toBeGreaterThanOrEqual(1);
    expect(stats.objectsSealed).toBe(ids.length);
    expect((await s.admin.evict(chunk)).evicted).toEqual([]);
    expect((await s.admin.stats()).counters.evictions).toBe(stats.counters.evictions);

    // Back to LRU: the same create succeeds by evicting the least recently used object (not ids[0],
    // which is used now).
    await s.admin.setPolicy("lru");
    const [first] = await s.client.getBuffers([ids[0] as ObjectID], { timeoutMs: 0 });
    expect(first?.length).toBe(chunk);
    await s.client.release(ids[0] as ObjectID);
    await s.client.contains(ids[0] as ObjectID);
    await s.client.createAndSeal(ObjectID.fromRandom(), pattern(chunk, 99));
    const after = await s.admin.stats();
    expect(after.counters.evictions).toBeGreaterThan(stats.counters.evictions);
    expect(await s.client.contains(ids[0] as ObjectID)).toBe(true);
    expect(await s.client.contains(ids[1] as ObjectID)).toBe(false);
    await expect(s.admin.setPolicy("random")).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });
});
