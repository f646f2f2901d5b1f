/**
 * Streaming XXH64 (seed 0 by default), for hashing an object in chunks: Bun.hash.xxHash64 takes one
 * buffer only. Gives the same digest as Bun.hash.xxHash64 over the concatenated chunks, however they are
 * cut. BigInt arithmetic: correct and simple, not fast (tens of MB/s); the hash worker uses it only for
 * objects too large to read into one buffer (see hash-worker.ts).
 */

const MASK = (1n << 64n) - 1n;
const P1 = 11400714785074694791n;
const P2 = 14029467366897019727n;
const P3 = 1609587929392839161n;
const P4 = 9650029242287828579n;
const P5 = 2870177450012600261n;
const STRIPE_BYTES = 32;

function rotl(x: bigint, bits: bigint): bigint {
  return ((x << bits) | (x >> (64n - bits))) & MASK;
}

function round(acc: bigint, lane: bigint): bigint {
  return (rotl((acc + lane * P2) & MASK, 31n) * P1) & MASK;
}

function mergeRound(acc: bigint, value: bigint): bigint {
  return (((acc ^ round(0n, value)) * P1 + P4) & MASK) as bigint;
}

function avalanche(h: bigint): bigint {
  let x = h;
  x = ((x ^ (x >> 33n)) * P2) & MASK;
  x = ((x ^ (x >> 29n)) * P3) & MASK;
  return x ^ (x >> 32n);
}

export class XxHash64 {
  #v1: bigint;
  #v2: bigint;
  #v3: bigint;
  #v4: bigint;
  readonly #seed: bigint;
  #totalBytes = 0;
  /** Bytes of a stripe not yet consumed (fewer than 32). */
  readonly #pending = new Uint8Array(STRIPE_BYTES);
  readonly #pendingView = new DataView(this.#pending.buffer);
  #pendingBytes = 0;

  constructor(seed = 0n) {
    this.#seed = BigInt.asUintN(64, seed);
    this.#v1 = (this.#seed + P1 + P2) & MASK;
    this.#v2 = (this.#seed + P2) & MASK;
    this.#v3 = this.#seed;
    this.#v4 = (this.#seed - P1) & MASK;
  }

  /** Adds `bytes` to the hashed stream. */
  update(bytes: Uint8Array): this {
    this.#totalBytes += bytes.length;
    let at = 0;
    if (this.#pendingBytes > 0) {
      const take = Math.min(STRIPE_BYTES - this.#pendingBytes, bytes.length);
      this.#pending.set(bytes.subarray(0, take), this.#pendingBytes);
      this.#pendingBytes += take;
      at = take;
      if (this.#pendingBytes < STRIPE_BYTES) return this;
      this.#stripe(this.#pendingView, 0);
      this.#pendingBytes = 0;
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (; at + STRIPE_BYTES <= bytes.length; at += STRIPE_BYTES) this.#stripe(view, at);
    this.#pending.set(bytes.subarray(at), 0);
    this.#pendingBytes = bytes.length - at;
    return this;
  }

  /** The digest of everything added so far (the stream may go on after it). */
  digest(): bigint {
    let h: bigint;
    if (this.#totalBytes >= STRIPE_BYTES) {
      h = (rotl(this.#v1, 1n) + rotl(this.#v2, 7n) + rotl(this.#v3, 12n) + rotl(this.#v4, 18n)) & MASK;
      for (const v of [this.#v1, this.#v2, this.#v3, this.#v4]) h = mergeRound(h, v);
    } else {
      h = (this.#seed + P5) & MASK;
    }
    h = (h + BigInt(this.#totalBytes)) & MASK;
    return avalanche(this.#tail(h));
  }

  #stripe(view: DataView, at: number): void {
    this.#v1 = round(this.#v1, view.getBigUint64(at, true));
    this.#v2 = round(this.#v2, view.getBigUint64(at + 8, true));
    this.#v3 = round(this.#v3, view.getBigUint64(at + 16, true));
    this.#v4 = round(this.#v4, view.getBigUint64(at + 24, true));
  }

  /** Folds the pending bytes (under one stripe) into `h`. */
  #tail(start: bigint): bigint {
    let h = start;
    const view = this.#pendingView;
    let at = 0;
    for (; at + 8 <= this.#pendingBytes; at += 8) {
      h ^= round(0n, view.getBigUint64(at, true));
      h = (rotl(h, 27n) * P1 + P4) & MASK;
    }
    if (at + 4 <= this.#pendingBytes) {
      h ^= (BigInt(view.getUint32(at, true)) * P1) & MASK;
      h = (rotl(h, 23n) * P2 + P3) & MASK;
      at += 4;
    }
    for (; at < this.#pendingBytes; at++) {
      h ^= (BigInt(this.#pending[at] as number) * P5) & MASK;
      h = (rotl(h, 11n) * P1) & MASK;
    }
    return h;
  }
}
