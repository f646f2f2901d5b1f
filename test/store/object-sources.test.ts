import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { PlasmaError, StoreFullError } from "../../src/protocol/errors.ts";
import type { MissingObjectSource } from "../../src/store/object-sources.ts";
import { type CreateSpec, type GetResult, StoreCore } from "../../src/store/store.ts";
import { FakeClock } from "./fake-clock.ts";

const CRED = { pid: 1, uid: 0, gid: 0 };

function spec(n: number, dataSize = 100): CreateSpec {
  const id = new Uint8Array(20);
  new DataView(id.buffer).setUint32(0, n);
  return { id, key: String.fromCharCode(...id), dataSize, metadataSize: 0 };
}

/** A source that says yes for the keys it is given and records what it was asked. */
class RecordingSource implements MissingObjectSource {
  readonly asked: { key: string; id: Uint8Array; waitMs: number }[] = [];
  constructor(readonly has: (key: string) => boolean) {}
  request(key: string, id: Uint8Array, waitMs: number): boolean {
    this.asked.push({ key, id, waitMs });
    return this.has(key);
  }
}

function setup(capacityBytes = 10_000) {
  const clock = new FakeClock();
  const core = new StoreCore({ capacityBytes, clock });
  const a = core.connectClient(CRED).id;
  const source = new RecordingSource(() => true);
  core.addMissingObjectSource(source);
  return { core, clock, a, source };
}

interface Outcome {
  result?: GetResult;
  error?: PlasmaError;
}

function startGet(core: StoreCore, client: number, keys: string[], timeoutMs: number): Outcome {
  const outcome: Outcome = {};
  core.get(
    client,
    keys,
    timeoutMs,
    (result) => {
      outcome.result = result;
    },
    (error) => {
      outcome.error = error;
    },
  );
  return outcome;
}

/** What a source does when it has the object: create, fill, seal. */
function fetchInto(core: StoreCore, s: CreateSpec): void {
  const entry = core.createForSource(s);
  expect(entry.state).toBe("created");
  core.sealForSource(s.key);
}

describe("MissingObjectSource", () => {
  test("a get with timeout 0 waits for a source that has the object, and resolves on its seal", () => {
    const { core, a, source } = setup();
    const s = spec(1);
    const outcome = startGet(core, a, [s.key], 0);
    expect(outcome.result).toBeUndefined();
    expect(source.asked).toEqual([{ key: s.key, id: s.id, waitMs: 0 }]);
    expect(core.contains(s.key)).toBe(false); // unsealed: no client sees it
    fetchInto(core, s);
    expect(outcome.result?.[0]?.state).toBe("sealed");
    core.release(a, s.key, 1);
    expect(core.entry(s.key)?.holders.size).toBe(0); // the source holds nothing once sealed
    core.checkInvariants();
  });

  test("a source that says no changes nothing: timeout 0 answers null at once", () => {
    const clock = new FakeClock();
    const core = new StoreCore({ capacityBytes: 10_000, clock });
    const a = core.connectClient(CRED).id;
    const no = new RecordingSource(() => false);
    const yes = new RecordingSource(() => true);
    core.addMissingObjectSource(no);
    core.addMissingObjectSource(yes);
    const s = spec(2);
    expect(startGet(core, a, [s.key], 0).result).toBeUndefined();
    expect(no.asked.length).toBe(1);
    expect(yes.asked.length).toBe(1); // asked in order, the second said yes
    core.sourceFinished(s.key, null);
    const onlyNo = new StoreCore({ capacityBytes: 10_000, clock });
    const c = onlyNo.connectClient(CRED).id;
    onlyNo.addMissingObjectSource(no);
    expect(startGet(onlyNo, c, [s.key], 0).result).toEqual([null]);
  });

  test("concurrent gets of one key share one fetch; absent answers timeout 0 now, waits the rest", () => {
    const { core, clock, a, source } = setup();
    const s = spec(3);
    const now = startGet(core, a, [s.key], 0);
    const later = startGet(core, a, [s.key], 1_000);
    expect(source.asked.length).toBe(1);
    core.sourceFinished(s.key, null);
    expect(now.result).toEqual([null]);
    expect(later.result).toBeUndefined();
    expect(source.asked.length).toBe(2); // asked again: a joined get waits longer than the first fetch
    expect(source.asked[1]?.waitMs).toBe(1_000);
    core.sourceFinished(s.key, null);
    expect(later.result).toBeUndefined();
    clock.advance(1_000);
    expect(later.result).toEqual([null]);
    core.checkInvariants();
  });

  test("a failed fetch fails its gets with the error and leaves nothing allocated", () => {
    const { core, a } = setup(1_000);
    const s = spec(4, 5_000);
    const outcome = startGet(core, a, [s.key], -1);
    expect(() => core.createForSource(s)).toThrow(StoreFullError);
    core.sourceFinished(s.key, new StoreFullError("no room"));
    expect(outcome.error).toBeInstanceOf(StoreFullError);
    expect(core.stats().usedBytes).toBe(0);
    expect(core.waitingGetCount).toBe(0);
    core.checkInvariants();
  });

  test("an aborted fetch leaves nothing, and a get with a timeout still answers at its timeout", () => {
    const { core, clock, a } = setup();
    const s = spec(5);
    const outcome = startGet(core, a, [s.key], 50);
    core.createForSource(s);
    expect(core.stats().objectCount).toBe(1);
    core.abortForSource(s.key);
    core.sourceFinished(s.key, null);
    expect(core.stats().objectCount).toBe(0);
    clock.advance(50);
    expect(outcome.result).toEqual([null]);
    core.checkInvariants();
  });

  test("a local object is never asked for, and holdForSource keeps it from eviction", () => {
    const { core, a, source } = setup(300);
    const s = spec(6, 200);
    core.createAndSeal(a, s, () => {});
    expect(startGet(core, a, [s.key], 0).result?.[0]?.state).toBe("sealed");
    core.release(a, s.key, 1);
    expect(source.asked.length).toBe(0);
    expect(core.holdForSource(s.key)?.state).toBe("sealed");
    expect(core.holdForSource(spec(7).key)).toBeNull();
    expect(core.evict(200)).toBe(0);
    core.releaseForSource(s.key);
    expect(core.evict(200)).toBe(200);
    core.checkInvariants();
  });

  test("copies a source made local are evicted before objects created here", () => {
    const { core, a } = setup(1_000);
    const local = spec(20, 300);
    const pulled = spec(21, 300);
    core.createAndSeal(a, local, () => {}); // older: LRU alone would evict it first
    fetchInto(core, pulled);
    expect(core.evict(1)).toBe(300);
    expect(core.contains(pulled.key)).toBe(false);
    expect(core.contains(local.key)).toBe(true);
    // Making room for a create evicts a pulled copy first too.
    fetchInto(core, spec(22, 300));
    core.createAndSeal(a, spec(23, 500), () => {});
    expect(core.contains(spec(22).key)).toBe(false);
    expect(core.contains(local.key)).toBe(true);
    core.checkInvariants();
  });

  test("property: any order of gets, seals, absences and failures keeps the core consistent", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("get"), n: fc.nat(3), timeoutMs: fc.constantFrom(0, 10, -1) }),
      fc.record({ kind: fc.constant("seal"), n: fc.nat(3) }),
      fc.record({ kind: fc.constant("absent"), n: fc.nat(3) }),
      fc.record({ kind: fc.constant("fail"), n: fc.nat(3) }),
      fc.record({ kind: fc.constant("tick"), n: fc.nat(20) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const { core, clock, a } = setup();
        const outcomes: { outcome: Outcome; key: string; timeoutMs: number }[] = [];
        for (const o of ops) {
          const s = spec(o.n + 100);
          if (o.kind === "get" && "timeoutMs" in o) {
            outcomes.push({
              outcome: startGet(core, a, [s.key], o.timeoutMs),
              key: s.key,
              timeoutMs: o.timeoutMs,
            });
          } else if (o.kind === "seal" && core.entry(s.key) === undefined) {
            fetchInto(core, s);
            core.sourceFinished(s.key, null);
          } else if (o.kind === "absent") {
            core.sourceFinished(s.key, null);
          } else if (o.kind === "fail") {
            core.sourceFinished(s.key, new PlasmaError("failed"));
          } else if (o.kind === "tick") {
            clock.advance(o.n);
          }
          core.checkInvariants();
        }
        for (const { outcome, key } of outcomes) {
          const found = outcome.result?.[0];
          if (found !== undefined && found !== null) core.release(a, key, 1);
          // A settled get answered exactly one way.
          expect(outcome.result !== undefined && outcome.error !== undefined).toBe(false);
        }
        core.disconnectClient(a);
        core.checkInvariants();
        expect(core.waitingGetCount).toBe(0);
      }),
    );
  });
});
