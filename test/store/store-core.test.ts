import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { NotificationWire } from "../../src/protocol/codecs/index.ts";
import {
  LimitExceededError,
  ObjectAlreadySealedError,
  ObjectExistsError,
  ObjectNotFoundError,
  ObjectNotSealedError,
  PlasmaError,
  StoreFullError,
} from "../../src/protocol/errors.ts";
import type { ObjectEntry } from "../../src/store/object-table.ts";
import { type CreateSpec, type GetResult, StoreCore, type StoreEvent } from "../../src/store/store.ts";
import { FakeClock } from "./fake-clock.ts";

const CRED = { pid: 1, uid: 0, gid: 0 };

function spec(n: number, dataSize = 100, metadataSize = 0): CreateSpec {
  const id = new Uint8Array(20);
  new DataView(id.buffer).setUint32(0, n);
  return { id, key: String.fromCharCode(...id), dataSize, metadataSize };
}

function setup(capacityBytes = 10_000, policy: "lru" | "fifo" | "lfu" | "none" = "lru") {
  const clock = new FakeClock();
  const core = new StoreCore({ capacityBytes, clock, evictionPolicy: policy });
  const a = core.connectClient(CRED).id;
  const b = core.connectClient(CRED).id;
  return { core, clock, a, b };
}

function getSync(core: StoreCore, client: number, keys: string[], timeoutMs = 0): GetResult {
  let result: GetResult | undefined;
  core.get(client, keys, timeoutMs, (r) => {
    result = r;
  });
  if (result === undefined) throw new Error("get did not complete synchronously");
  return result;
}

describe("StoreCore lifecycle", () => {
  test("create → seal → get → release, with reference counts", () => {
    const { core, a, b } = setup();
    const s = spec(1);
    const entry = core.create(a, s);
    expect(entry.state).toBe("created");
    expect(entry.holders.get(a)).toBe(1);
    expect(core.contains(s.key)).toBe(false);
    expect(() => core.create(b, s)).toThrow(ObjectExistsError);
    expect(() => core.seal(b, s.key)).toThrow(ObjectNotFoundError);
    core.seal(a, s.key);
    expect(() => core.seal(a, s.key)).toThrow(ObjectAlreadySealedError);
    expect(core.contains(s.key)).toBe(true);
    const [got] = getSync(core, b, [s.key]);
    expect(got?.offset).toBe(entry.offset);
    expect(entry.holders.size).toBe(2);
    core.release(a, s.key, 1);
    expect(() => core.release(a, s.key, 1)).toThrow(ObjectNotFoundError);
    core.release(b, s.key, 1);
    expect(entry.holders.size).toBe(0);
    expect(core.stats().evictableCount).toBe(1);
    core.checkInvariants();
  });

  test("abort: only the creator, only unsealed; the id can be created again", () => {
    const { core, a, b } = setup();
    const s = spec(2);
    core.create(a, s);
    expect(() => core.abort(b, s.key)).toThrow(ObjectNotFoundError);
    core.abort(a, s.key);
    expect(core.stats().objectCount).toBe(0);
    core.create(b, s);
    core.seal(b, s.key);
    expect(() => core.abort(b, s.key)).toThrow(ObjectAlreadySealedError);
    expect(() => core.release(b, spec(3).key, 1)).toThrow(ObjectNotFoundError);
    core.checkInvariants();
  });

  test("releasing an unsealed object is refused", () => {
    const { core, a } = setup();
    const s = spec(4);
    core.create(a, s);
    expect(() => core.release(a, s.key, 1)).toThrow(ObjectNotSealedError);
  });

  test("delete: now if unused, on last release if in use, after seal+release if unsealed", () => {
    const { core, a, b } = setup();
    const [x, y, z] = [spec(10), spec(11), spec(12)];
    for (const s of [x, y]) {
      core.create(a, s);
      core.seal(a, s.key);
    }
    core.release(a, x.key, 1);
    core.create(a, z);
    expect(core.delete([x.key, y.key, z.key, spec(99).key])).toBe(1);
    expect(core.entry(x.key)).toBeUndefined();
    expect(core.entry(y.key)).toBeDefined();
    core.release(a, y.key, 1);
    expect(core.entry(y.key)).toBeUndefined();
    core.seal(a, z.key);
    getSync(core, b, [z.key]);
    core.release(a, z.key, 1);
    expect(core.entry(z.key)).toBeDefined();
    core.release(b, z.key, 1);
    expect(core.entry(z.key)).toBeUndefined();
    expect(core.stats().usedBytes).toBe(0);
    core.checkInvariants();
  });

  test("disconnect releases references, aborts unsealed objects and drops blocked gets", () => {
    const { core, clock, a, b } = setup();
    const [x, y] = [spec(20), spec(21)];
    core.create(a, x);
    core.seal(a, x.key);
    core.create(a, y);
    let answered = false;
    core.get(a, [spec(22).key], -1, () => {
      answered = true;
    });
    core.get(a, [spec(23).key], 1000, () => {
      answered = true;
    });
    expect(core.waitingGetCount).toBe(2);
    core.disconnectClient(a);
    expect(core.waitingGetCount).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    expect(answered).toBe(false);
    expect(core.entry(y.key)).toBeUndefined();
    expect(core.entry(x.key)?.holders.size).toBe(0);
    core.checkInvariants();
    expect(core.client(b)).toBeDefined();
  });
});

describe("StoreCore transactions", () => {
  test("createAndSeal fills the new block, then seals and releases: the object is sealed and unheld", () => {
    const { core, a, b } = setup();
    const s = spec(70, 100, 8);
    const filled: ObjectEntry[] = [];
    core.createAndSeal(a, s, (entry) => {
      expect(entry.state).toBe("created");
      filled.push(entry);
    });
    expect(filled.length).toBe(1);
    const entry = core.entry(s.key);
    expect(entry?.state).toBe("sealed");
    expect(entry?.offset).toBe(filled[0]?.offset as number);
    expect(entry?.holders.size).toBe(0);
    expect(core.contains(s.key)).toBe(true);
    expect(core.client(a)?.objectsHeld).toBe(0);
    expect(core.counters).toMatchObject({ creates: 1, seals: 1, releases: 1, aborts: 0 });
    expect(() => core.createAndSeal(b, s, () => {})).toThrow(ObjectExistsError);
    core.checkInvariants();
  });

  test("createAndSeal rolls back: a fill that throws aborts the object and rethrows its error", () => {
    const { core, a } = setup(1000);
    const kinds: string[] = [];
    core.onEvent((e) => kinds.push(e.kind));
    const s = spec(71, 600);
    const failure = new Error("arena write failed");
    expect(() =>
      core.createAndSeal(a, s, () => {
        throw failure;
      }),
    ).toThrow(failure);
    expect(core.entry(s.key)).toBeUndefined();
    expect(core.stats().usedBytes).toBe(0);
    expect(core.client(a)).toMatchObject({ objectsHeld: 0, objectsCreating: 0 });
    expect(core.counters).toMatchObject({ creates: 1, aborts: 1, seals: 0 });
    expect(kinds).toEqual(["object_created", "object_aborted"]);
    core.checkInvariants();
    core.createAndSeal(a, s, () => {});
    expect(core.contains(s.key)).toBe(true);
    core.checkInvariants();
  });

  test("createAndSeal that cannot create never calls fill", () => {
    const { core, a } = setup(1000);
    let calls = 0;
    expect(() => core.createAndSeal(a, spec(72, 2000), () => calls++)).toThrow(StoreFullError);
    expect(calls).toBe(0);
    expect(core.stats().objectCount).toBe(0);
  });

  test("getMetadata reads each found object's metadata and gives its reference back", () => {
    const { core, a, b } = setup();
    const [x, y] = [spec(73, 10, 3), spec(74, 10, 0)];
    for (const s of [x, y]) core.createAndSeal(a, s, () => {});
    const read: string[] = [];
    let answer: (Uint8Array | null)[] | Error | null = null;
    core.getMetadata(
      b,
      [x.key, spec(75).key, y.key],
      0,
      (entry) => {
        read.push(entry.key);
        expect(entry.holders.get(b)).toBe(1);
        return new Uint8Array(entry.metadataSize).fill(7);
      },
      (metadata) => {
        answer = metadata;
      },
    );
    expect(read).toEqual([x.key, y.key]);
    expect(answer as unknown as (Uint8Array | null)[]).toEqual([
      new Uint8Array([7, 7, 7]),
      null,
      new Uint8Array(0),
    ]);
    expect(core.entry(x.key)?.holders.size).toBe(0);
    expect(core.entry(y.key)?.holders.size).toBe(0);
    expect(core.client(b)?.objectsHeld).toBe(0);
    expect(core.counters.releases).toBe(4);
    core.checkInvariants();
  });

  test("getMetadata waits like get, and releases even when reading the metadata fails (done gets the error)", () => {
    const { core, a, b } = setup();
    const x = spec(76, 10, 2);
    let answer: (Uint8Array | null)[] | Error | null = null;
    core.getMetadata(
      b,
      [x.key],
      -1,
      () => new Uint8Array([1, 2]),
      (metadata) => {
        answer = metadata;
      },
    );
    expect(core.waitingGetCount).toBe(1);
    core.create(a, x);
    expect(answer).toBeNull();
    core.seal(a, x.key);
    expect(answer as unknown as (Uint8Array | null)[]).toEqual([new Uint8Array([1, 2])]);
    expect(core.entry(x.key)?.holders.get(b)).toBeUndefined();
    const failure = new Error("arena read failed");
    const readFails = () => {
      throw failure;
    };
    let failed: unknown = null;
    core.getMetadata(b, [x.key], 0, readFails, (metadata) => {
      failed = metadata;
    });
    expect(failed).toBe(failure);
    expect(core.entry(x.key)?.holders.get(b)).toBeUndefined();
    expect(core.client(b)?.objectsHeld).toBe(0);
    core.checkInvariants();
  });

  test("getNow grants references to sealed objects at once and never waits", () => {
    const { core, a, b } = setup();
    const [x, y] = [spec(77), spec(78)];
    core.createAndSeal(a, x, () => {});
    core.create(a, y);
    const result = core.getNow(b, [x.key, y.key, spec(79).key, x.key]);
    expect(result.map((e) => e?.key ?? null)).toEqual([x.key, null, null, x.key]);
    expect(core.waitingGetCount).toBe(0);
    expect(core.entry(x.key)?.holders.get(b)).toBe(2);
    expect(core.counters).toMatchObject({ getHits: 2, getMisses: 2 });
    core.release(b, x.key, 2);
    core.checkInvariants();
  });

  test("getNow checks the client and the id limit", () => {
    const clock = new FakeClock();
    const core = new StoreCore({ capacityBytes: 1000, clock, limits: { maxIdsPerRequest: 2 } });
    const a = core.connectClient(CRED).id;
    expect(() => core.getNow(a, [spec(1).key, spec(2).key, spec(3).key])).toThrow(LimitExceededError);
    expect(() => core.getNow(a + 1, [spec(1).key])).toThrow(PlasmaError);
    expect(core.getNow(a, [spec(1).key])).toEqual([null]);
  });
});

describe("StoreCore views", () => {
  test("client statuses and stats are snapshots with units", () => {
    const { core, clock, a, b } = setup(10_000, "fifo");
    const connected: StoreEvent[] = [];
    core.onEvent((e) => connected.push(e));
    clock.advance(5);
    const c = core.connectClient({ pid: 7, uid: 8, gid: 9 }).id;
    core.create(a, spec(80, 100, 20));
    core.createAndSeal(a, spec(81, 50), () => {});
    const before = core.client(a);
    expect(before).toMatchObject({ id: a, objectsHeld: 1, objectsCreating: 1, bytesCreated: 170 });
    expect(core.client(c)).toMatchObject({ pid: 7, uid: 8, gid: 9, connectTimeMs: clock.now() });
    expect(connected[0]).toMatchObject({ kind: "client_connected", client: { id: c, objectsHeld: 0 } });
    expect(core.clientStatuses().map((s) => s.id)).toEqual([a, b, c]);
    expect(core.entry(spec(81).key)?.createTimeMs).toBe(clock.now());
    expect(core.entry(spec(81).key)?.lastAccessTimeMs).toBe(clock.now());
    expect(core.stats()).toMatchObject({
      capacityBytes: 10_000,
      objectCount: 2,
      createdCount: 1,
      createdBytes: 120,
      sealedCount: 1,
      sealedBytes: 50,
      evictableCount: 1,
      evictableBytes: 50,
      evictionPolicy: "fifo",
      clientCount: 3,
    });
    core.disconnectClient(a);
    expect(before?.objectsHeld).toBe(1);
    expect(core.client(a)).toBeUndefined();
    expect(connected.at(-1)).toMatchObject({
      kind: "client_disconnected",
      client: { id: a, objectsHeld: 0 },
    });
  });
});

describe("StoreCore gets", () => {
  test("a blocked multi-get completes when the last object is sealed", () => {
    const { core, a, b } = setup();
    const [x, y] = [spec(30), spec(31)];
    let result: GetResult | null = null;
    core.get(b, [x.key, y.key], -1, (r) => {
      result = r;
    });
    core.create(a, x);
    core.seal(a, x.key);
    expect(result).toBeNull();
    core.create(a, y);
    core.abort(a, y.key);
    expect(result).toBeNull();
    core.create(a, y);
    core.seal(a, y.key);
    expect(result).not.toBeNull();
    expect((result as unknown as GetResult).map((e) => e?.key)).toEqual([x.key, y.key]);
  });

  test("timeouts answer with what is there", () => {
    const { core, clock, a, b } = setup();
    const [x, y] = [spec(40), spec(41)];
    core.create(a, x);
    core.seal(a, x.key);
    let result: GetResult | null = null;
    core.get(b, [x.key, y.key], 100, (r) => {
      result = r;
    });
    clock.advance(99);
    expect(result).toBeNull();
    clock.advance(1);
    expect((result as unknown as GetResult).map((e) => e?.key ?? null)).toEqual([x.key, null]);
    expect(core.counters.getTimeouts).toBe(1);
    expect(getSync(core, b, [y.key]).length).toBe(1);
    core.checkInvariants();
  });

  test("pending gets per client are limited", () => {
    const clock = new FakeClock();
    const core = new StoreCore({ capacityBytes: 1000, clock, limits: { maxPendingGetsPerClient: 2 } });
    const a = core.connectClient(CRED).id;
    core.get(a, [spec(1).key], -1, () => {});
    core.get(a, [spec(2).key], -1, () => {});
    expect(() => core.get(a, [spec(3).key], -1, () => {})).toThrow(LimitExceededError);
  });
});

describe("StoreCore memory", () => {
  test("store full at exact fractions; exact capacity fits twice", () => {
    const { core, a } = setup(1_000_000_000);
    const half = spec(50, 500_000_000);
    core.create(a, half);
    expect(() => core.create(a, spec(51, 500_000_001))).toThrow(StoreFullError);
    expect(core.entry(spec(51).key)).toBeUndefined();
    core.create(a, spec(52, 200_000_000));
    const { core: core2, a: c2 } = setup(10_000);
    for (let round = 0; round < 2; round++) {
      const s = spec(60 + round, 9_000, 1_000);
      core2.create(c2, s);
      core2.seal(c2, s.key);
      core2.release(c2, s.key, 1);
    }
    expect(core2.counters.evictions).toBe(1);
    core2.checkInvariants();
  });

  test("create evicts LRU victims; evict(1) frees exactly the LRU victim", () => {
    const { core, a, b } = setup(1000);
    const ids = [1, 2, 3, 4].map((n) => spec(n, 200));
    for (const s of ids) {
      core.create(a, s);
      core.seal(a, s.key);
      core.release(a, s.key, 1);
    }
    // Use 1 again: it becomes most recently used.
    getSync(core, b, [ids[0]?.key as string]);
    core.release(b, ids[0]?.key as string, 1);
    expect(core.evict(1)).toBe(200);
    expect(core.entry(ids[1]?.key as string)).toBeUndefined();
    core.create(a, spec(5, 400));
    expect(core.entry(ids[2]?.key as string)).toBeUndefined();
    expect(core.entry(ids[3]?.key as string)).toBeDefined();
    expect(core.entry(ids[0]?.key as string)).toBeDefined();
    core.checkInvariants();
  });

  test("held objects are never evicted; full with everything held is StoreFullError", () => {
    const { core, a } = setup(1000);
    core.create(a, spec(1, 600));
    core.seal(a, spec(1).key);
    expect(() => core.create(a, spec(2, 600))).toThrow(StoreFullError);
    expect(core.evict(1000)).toBe(0);
    expect(core.counters.storeFullErrors).toBe(1);
  });

  test("createOrWait waits for memory in FIFO order, and times out with StoreFullError", () => {
    const { core, clock, a, b } = setup(1000);
    core.create(a, spec(1, 1000));
    core.seal(a, spec(1).key);
    const order: string[] = [];
    core.createOrWait(b, spec(2, 600), -1, (r) => order.push(r instanceof Error ? `err:${r.code}` : "2"));
    core.createOrWait(b, spec(3, 300), -1, (r) => order.push(r instanceof Error ? `err:${r.code}` : "3"));
    core.createOrWait(b, spec(4, 900), 50, (r) => order.push(r instanceof Error ? `err:${r.code}` : "4"));
    expect(order).toEqual([]);
    clock.advance(50);
    expect(order).toEqual(["err:STORE_FULL"]);
    core.release(a, spec(1).key, 1); // evictable now: the queue is served in order
    expect(order).toEqual(["err:STORE_FULL", "2", "3"]);
    core.checkInvariants();
  });
});

describe("StoreCore subscribers", () => {
  test("existing sealed objects first in seal order, then seals and deletions", () => {
    const { core, a, b } = setup();
    const [x, y, z] = [spec(1), spec(2), spec(3)];
    core.create(a, x);
    core.create(a, y);
    core.seal(a, y.key);
    core.seal(a, x.key);
    const notes: NotificationWire[] = [];
    core.subscribe(b, (n) => notes.push(...n));
    core.create(a, z);
    core.seal(a, z.key);
    core.release(a, z.key, 1);
    core.delete([z.key]);
    expect(notes.map((n) => [n.id[3], n.deleted])).toEqual([
      [2, false],
      [1, false],
      [3, false],
      [3, true],
    ]);
  });

  test("events reach listeners", () => {
    const { core, a } = setup();
    const kinds: string[] = [];
    core.onEvent((e: StoreEvent) => kinds.push(e.kind));
    core.create(a, spec(1));
    core.seal(a, spec(1).key);
    core.release(a, spec(1).key, 1);
    core.evict(1);
    core.setEvictionPolicy("fifo");
    expect(kinds).toEqual(["object_created", "object_sealed", "object_evicted", "policy_changed"]);
  });
});

describe("StoreCore invariants (property-based)", () => {
  type Op =
    | { kind: "create"; client: number; n: number; size: number }
    | { kind: "createAndSeal"; client: number; n: number; size: number; fillFails: boolean }
    | { kind: "seal" | "abort" | "release" | "delete"; client: number; n: number }
    /** timeoutMs null: getNow. */
    | { kind: "get"; client: number; n: number; timeoutMs: number | null }
    | { kind: "evict"; bytes: number }
    | { kind: "tick"; ms: number }
    | { kind: "reconnect"; client: number };
  const client = fc.integer({ min: 0, max: 2 });
  const n = fc.integer({ min: 0, max: 11 });
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant("create" as const), client, n, size: fc.integer({ min: 0, max: 600 }) }),
    fc.record({
      kind: fc.constant("createAndSeal" as const),
      client,
      n,
      size: fc.integer({ min: 0, max: 600 }),
      fillFails: fc.boolean(),
    }),
    fc.record({
      kind: fc.constantFrom("seal" as const, "abort" as const, "release" as const, "delete" as const),
      client,
      n,
    }),
    fc.record({ kind: fc.constant("get" as const), client, n, timeoutMs: fc.constantFrom(-1, 0, 10, null) }),
    fc.record({ kind: fc.constant("evict" as const), bytes: fc.integer({ min: 1, max: 1500 }) }),
    fc.record({ kind: fc.constant("tick" as const), ms: fc.integer({ min: 1, max: 20 }) }),
    fc.record({ kind: fc.constant("reconnect" as const), client }),
  );

  test("any sequence of operations keeps allocator, table, references and policy consistent", () => {
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 120 }),
        fc.constantFrom("lru", "fifo", "lfu", "none"),
        (ops, policy) => {
          const clock = new FakeClock();
          const core = new StoreCore({ capacityBytes: 2000, clock, evictionPolicy: policy as "lru" });
          const clients = [0, 1, 2].map(() => core.connectClient(CRED).id);
          for (const o of ops) {
            try {
              switch (o.kind) {
                case "create":
                  core.create(clients[o.client] as number, spec(o.n, o.size));
                  break;
                case "createAndSeal":
                  core.createAndSeal(clients[o.client] as number, spec(o.n, o.size), () => {
                    if (o.fillFails) throw new ObjectNotFoundError("the fill failed");
                  });
                  break;
                case "seal":
                  core.seal(clients[o.client] as number, spec(o.n).key);
                  break;
                case "abort":
                  core.abort(clients[o.client] as number, spec(o.n).key);
                  break;
                case "release":
                  core.release(clients[o.client] as number, spec(o.n).key, 1);
                  break;
                case "delete":
                  core.delete([spec(o.n).key]);
                  break;
                case "get":
                  if (o.timeoutMs === null) core.getNow(clients[o.client] as number, [spec(o.n).key]);
                  else core.get(clients[o.client] as number, [spec(o.n).key], o.timeoutMs, () => {});
                  break;
                case "evict":
                  core.evict(o.bytes);
                  break;
                case "tick":
                  clock.advance(o.ms);
                  break;
                case "reconnect":
                  core.disconnectClient(clients[o.client] as number);
                  clients[o.client] = core.connectClient(CRED).id;
                  break;
              }
            } catch (error) {
              if (!(error instanceof Error) || !("code" in error)) throw error;
            }
            core.checkInvariants();
            expect(core.stats().usedBytes).toBeLessThanOrEqual(2000);
          }
          for (const id of clients) core.disconnectClient(id);
          core.checkInvariants();
          for (const entry of core.list()) {
            expect(entry.state).toBe("sealed");
            expect(entry.holders.size).toBe(0);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
