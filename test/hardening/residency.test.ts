/** The /metrics resident-bytes sampler: bounded slices, shared sweeps, a figure at most a few seconds old. */
import { expect, test } from "bun:test";
import { RESIDENCY_MAX_AGE_MS, RESIDENCY_SLICE_BYTES, ResidencySampler } from "../../src/admin/residency.ts";

test("a sweep measures the arena in slices, concurrent scrapes share it, and it is reused until it is old", async () => {
  const arenaBytes = 4 * RESIDENCY_SLICE_BYTES + 4096;
  const calls: [number, number][] = [];
  let nowMs = 0;
  const sampler = new ResidencySampler(
    arenaBytes,
    (offset, length) => {
      calls.push([offset, length]);
      return length / 2;
    },
    () => nowMs,
  );
  const figures = await Promise.all(Array.from({ length: 10 }, () => sampler.residentBytes()));
  expect(figures).toEqual(new Array(10).fill(arenaBytes / 2));
  expect(sampler.sweeps).toBe(1);
  expect(calls.length).toBe(5);
  expect(calls.every(([, length]) => length <= RESIDENCY_SLICE_BYTES)).toBe(true);
  expect(calls.reduce((sum, [, length]) => sum + length, 0)).toBe(arenaBytes);
  nowMs += RESIDENCY_MAX_AGE_MS - 1;
  expect(await sampler.residentBytes()).toBe(arenaBytes / 2);
  expect(sampler.sweeps).toBe(1);
  nowMs += 1;
  await sampler.residentBytes();
  expect(sampler.sweeps).toBe(2);
});

test("an arena of one slice is measured at every scrape", async () => {
  let measured = 0;
  const sampler = new ResidencySampler(
    RESIDENCY_SLICE_BYTES,
    () => ++measured,
    () => 0,
  );
  expect(await sampler.residentBytes()).toBe(1);
  expect(await sampler.residentBytes()).toBe(2);
});
