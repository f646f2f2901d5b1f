/** What the store-level race test's processes agree on: ids, sizes and contents derived from a number. */
import { ObjectID } from "../../../src/client/index.ts";

/** Ids the writer cycles through (readers pick among them at random). */
export const ID_SPACE = 600;

export function objectIdOf(n: number): ObjectID {
  const bytes = new Uint8Array(20);
  bytes.set([0x5a, 0xd1, n & 0xff, (n >>> 8) & 0xff]);
  return new ObjectID(bytes);
}

/** 256 B to ~12 KiB, from the id: a reader checks the length too. */
export function sizeOf(n: number): number {
  return 256 + (((n * 2654435761) >>> 0) % 12_000);
}

/** Byte k of object n: any reuse of its memory by another object shows up as a mismatch. */
export function byteOf(n: number, k: number): number {
  return (n * 31 + k * 7 + (k >>> 8)) & 0xff;
}

export function contentOf(n: number): Uint8Array {
  const data = new Uint8Array(sizeOf(n));
  for (let k = 0; k < data.length; k++) data[k] = byteOf(n, k);
  return data;
}

/** A small seeded PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
