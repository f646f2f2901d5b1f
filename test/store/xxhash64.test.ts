// The streaming XXH64 against Bun's one-shot XXH64, over random inputs cut into random chunks.
import { expect, test } from "bun:test";
import fc from "fast-check";
import { XxHash64 } from "../../src/store/xxhash64.ts";

function oneShot(bytes: Uint8Array, seed = 0n): bigint {
  return BigInt.asUintN(64, BigInt(Bun.hash.xxHash64(bytes, seed)));
}

/** `bytes` cut at the given points (sorted, deduplicated, clamped to its length). */
function chunksOf(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    chunks.push(bytes.subarray(from, p));
    from = p;
  }
  return chunks;
}

test("the digest equals Bun.hash.xxHash64 for every input and every chunking", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      (bytes, cuts, seed) => {
        const hash = new XxHash64(seed);
        for (const chunk of chunksOf(bytes, cuts)) hash.update(chunk);
        expect(hash.digest()).toBe(oneShot(bytes, seed));
      },
    ),
    { numRuns: 500 },
  );
});

test("every length around the 32-byte stripe and the 8/4-byte tails, fed one byte at a time", () => {
  const bytes = Uint8Array.from({ length: 100 }, (_, i) => (i * 131 + 7) & 0xff);
  for (let length = 0; length <= bytes.length; length++) {
    const input = bytes.subarray(0, length);
    const hash = new XxHash64();
    for (let i = 0; i < length; i++) hash.update(input.subarray(i, i + 1));
    expect(hash.digest()).toBe(oneShot(input));
    expect(new XxHash64().update(input).digest()).toBe(oneShot(input));
  }
});

test("a megabyte in uneven chunks, and a digest taken mid-stream then continued", () => {
  const bytes = new Uint8Array(1024 * 1024 + 13);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
  const hash = new XxHash64();
  let at = 0;
  for (let step = 1; at < bytes.length; step = (step * 7 + 3) % 65_537) {
    if (at > 500_000 && at < 600_000) expect(hash.digest()).toBe(oneShot(bytes.subarray(0, at)));
    hash.update(bytes.subarray(at, at + step));
    at += step;
  }
  expect(hash.digest()).toBe(oneShot(bytes));
});
