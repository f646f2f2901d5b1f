import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { type SpilledSizes, SpillIndex } from "../../src/store/spill-index.ts";

const sizes = (fileBytes: number): SpilledSizes => ({
  dataSizeBytes: fileBytes - 64,
  metadataSizeBytes: 0,
  fileBytes,
});

type Op =
  | { op: "reserve"; key: number; fileBytes: number }
  | { op: "commit" | "cancel" | "remove" | "restore" | "finish"; key: number }
  | { op: "adopt"; key: number; fileBytes: number }
  | { op: "drop"; reason: "budget" | "disk-full" | "io-error" };

const key = fc.integer({ min: 0, max: 7 });
const fileBytes = fc.integer({ min: 64, max: 600 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant("reserve" as const), key, fileBytes }),
  fc.record({
    op: fc.constantFrom(
      "commit" as const,
      "cancel" as const,
      "remove" as const,
      "restore" as const,
      "finish" as const,
    ),
    key,
  }),
  fc.record({ op: fc.constant("adopt" as const), key, fileBytes }),
  fc.record({
    op: fc.constant("drop" as const),
    reason: fc.constantFrom("budget" as const, "disk-full" as const, "io-error" as const),
  }),
);

/** A plain model: maps and sums, no incremental counters. */
class Model {
  spilled = new Map<string, number>();
  inFlight = new Map<string, number>();
  restores = new Map<string, number[]>();
  inEpisode = false;
  drops = { budget: 0, "disk-full": 0, "io-error": 0 };
  constructor(readonly budgetBytes: number) {}
  sum(m: Map<string, number>): number {
    return [...m.values()].reduce((a, b) => a + b, 0);
  }
}

describe("SpillIndex", () => {
  test("matches a plain model under any sequence, and its invariants hold", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2000 }), fc.array(op, { maxLength: 120 }), (budgetBytes, ops) => {
        const index = new SpillIndex<number>(budgetBytes);
        const model = new Model(budgetBytes);
        let waiter = 0;
        for (const o of ops) {
          const k = o.op === "drop" ? "" : `k${o.key}`;
          const busy = model.spilled.has(k) || model.inFlight.has(k);
          if (o.op === "reserve") {
            if (busy) {
              expect(() => index.reserve(k, sizes(o.fileBytes))).toThrow(/store invariant/);
              continue;
            }
            const fits = model.sum(model.spilled) + model.sum(model.inFlight) + o.fileBytes <= budgetBytes;
            expect(index.reserve(k, sizes(o.fileBytes))).toBe(fits);
            if (fits) model.inFlight.set(k, o.fileBytes);
          } else if (o.op === "commit" || o.op === "cancel") {
            const reserved = model.inFlight.get(k);
            if (reserved === undefined) {
              expect(() => (o.op === "commit" ? index.commit(k) : index.cancel(k))).toThrow(
                /store invariant/,
              );
              continue;
            }
            if (o.op === "commit") index.commit(k);
            else index.cancel(k);
            model.inFlight.delete(k);
            if (o.op === "commit") {
              model.spilled.set(k, reserved);
              model.inEpisode = false;
            }
          } else if (o.op === "adopt") {
            if (busy) {
              expect(() => index.adopt(k, sizes(o.fileBytes))).toThrow(/store invariant/);
              continue;
            }
            index.adopt(k, sizes(o.fileBytes));
            model.spilled.set(k, o.fileBytes);
          } else if (o.op === "remove") {
            const had = model.spilled.get(k);
            expect(index.remove(k)?.fileBytes).toBe(had);
            model.spilled.delete(k);
          } else if (o.op === "restore") {
            if (!model.spilled.has(k)) {
              expect(() => index.beginRestore(k, waiter)).toThrow(/store invariant/);
              continue;
            }
            const running = model.restores.get(k);
            expect(index.beginRestore(k, waiter)).toBe(running === undefined ? "start" : "joined");
            model.restores.set(k, [...(running ?? []), waiter]);
            waiter++;
          } else if (o.op === "finish") {
            const running = model.restores.get(k);
            if (running === undefined) {
              expect(() => index.finishRestore(k)).toThrow(/store invariant/);
              continue;
            }
            expect(index.finishRestore(k)).toEqual(running);
            model.restores.delete(k);
          } else if (o.op === "drop") {
            expect(index.recordDrop(o.reason).startsEpisode).toBe(!model.inEpisode);
            model.inEpisode = true;
            model.drops[o.reason]++;
          }
          index.checkInvariants();
          expect(index.usedBytes).toBe(model.sum(model.spilled));
          expect(index.reservedBytes).toBe(model.sum(model.inFlight));
          expect(index.spilledCount).toBe(model.spilled.size);
          expect(index.inFlightCount).toBe(model.inFlight.size);
          expect(index.inEpisode).toBe(model.inEpisode);
          expect(index.drops()).toEqual(model.drops);
          for (const key of model.restores.keys()) expect(index.isRestoring(key)).toBe(true);
          expect([...index.keys()].sort()).toEqual([...model.spilled.keys()].sort());
        }
      }),
      { numRuns: 300 },
    );
  });

  test("reservations count against the budget until committed or cancelled", () => {
    const index = new SpillIndex<never>(1000);
    expect(index.reserve("a", sizes(600))).toBe(true);
    expect(index.reserve("b", sizes(500))).toBe(false);
    expect(index.isSpilling("b")).toBe(false);
    index.cancel("a");
    expect(index.reserve("b", sizes(500))).toBe(true);
    index.commit("b");
    expect(index.get("b")).toEqual(sizes(500));
    expect(index.isSpilled("b")).toBe(true);
    expect(index.fits(500)).toBe(true);
    expect(index.fits(501)).toBe(false);
  });

  test("concurrent gets share one restore; a drop episode logs once until a spill succeeds", () => {
    const index = new SpillIndex<string>(200);
    index.adopt("x", sizes(80));
    expect(index.beginRestore("x", "get 1")).toBe("start");
    expect(index.beginRestore("x", "get 2")).toBe("joined");
    expect(index.finishRestore("x")).toEqual(["get 1", "get 2"]);
    expect(index.isRestoring("x")).toBe(false);
    expect(index.recordDrop("budget").startsEpisode).toBe(true);
    expect(index.recordDrop("disk-full").startsEpisode).toBe(false);
    expect(index.reserve("y", sizes(100))).toBe(true);
    expect(index.recordDrop("budget").startsEpisode).toBe(false);
    index.commit("y");
    expect(index.recordDrop("budget").startsEpisode).toBe(true);
    expect(index.drops()).toEqual({ budget: 3, "disk-full": 1, "io-error": 0 });
  });

  test("adopted files may exceed a smaller budget; nothing more fits then", () => {
    const index = new SpillIndex<never>(100);
    index.adopt("old", sizes(150));
    expect(index.usedBytes).toBe(150);
    expect(index.reserve("new", sizes(64))).toBe(false);
    index.remove("old");
    expect(index.reserve("new", sizes(64))).toBe(true);
  });

  test("bad budgets and sizes are RangeErrors", () => {
    expect(() => new SpillIndex(-1)).toThrow(RangeError);
    expect(() => new SpillIndex(1.5)).toThrow(RangeError);
    expect(() =>
      new SpillIndex<never>(10).reserve("a", { dataSizeBytes: -1, metadataSizeBytes: 0, fileBytes: 1 }),
    ).toThrow(RangeError);
  });
});
