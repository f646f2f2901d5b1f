// One soak client process. argv: socketPath seed durationMs
// Runs a random mix of create, write, seal, abort, createAndSeal, get + verify, hash, release, delete,
// evict and list until the time is up, then prints one JSON line of counts. Every object carries a
// checksum of its contents in its metadata: "SOAK", u32 data length, u32 CRC32 of the data.
import { connect, ObjectID, type PlasmaError, StoreFullError } from "../../../src/client/index.ts";
import { Rng } from "../helpers.ts";

const [socketPath, seedText, durationText] = process.argv.slice(2);
const rng = new Rng(Number(seedText));
const deadline = Date.now() + Number(durationText);
const MAGIC = 0x4b414f53; // "SOAK"
const MAX_DATA_BYTES = 128 * 1024;
const MAX_HELD = 8;

const client = await connect(socketPath as string);
const counts = {
  ops: 0,
  creates: 0,
  aborts: 0,
  seals: 0,
  gets: 0,
  verified: 0,
  bytesVerified: 0,
  hashChecks: 0,
  mismatches: 0,
  releases: 0,
  deletes: 0,
  evictions: 0,
  lists: 0,
  storeFull: 0,
  unexpectedErrors: 0,
  errors: [] as string[],
};
let known: ObjectID[] = [];
const held: { id: ObjectID; data: Uint8Array; metadata: Uint8Array }[] = [];

function fill(data: Uint8Array, seed: number): void {
  const words = new Uint32Array(data.buffer, data.byteOffset, data.length >>> 2);
  let x = seed | 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  for (let i = words.length * 4; i < data.length; i++) data[i] = i & 0xff;
}

function metadataFor(data: Uint8Array): Uint8Array {
  const meta = new Uint8Array(12);
  const view = new DataView(meta.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, data.length, true);
  view.setUint32(8, Bun.hash.crc32(data), true);
  return meta;
}

function verify(data: Uint8Array, metadata: Uint8Array, id: ObjectID): boolean {
  const view = new DataView(metadata.buffer, metadata.byteOffset, metadata.byteLength);
  const ok =
    metadata.length === 12 &&
    view.getUint32(0, true) === MAGIC &&
    view.getUint32(4, true) === data.length &&
    view.getUint32(8, true) === Bun.hash.crc32(data);
  if (!ok) {
    counts.mismatches++;
    if (counts.errors.length < 10) counts.errors.push(`content mismatch in ${id.hex()}`);
  }
  counts.verified++;
  return ok;
}

function expected(error: unknown): void {
  if (error instanceof StoreFullError) {
    counts.storeFull++;
    return;
  }
  counts.unexpectedErrors++;
  const e = error as PlasmaError;
  if (counts.errors.length < 10) counts.errors.push(`${e.name}: ${e.message}`);
}

async function create(): Promise<void> {
  const id = ObjectID.fromRandom();
  const size = rng.chance(0.05) ? 0 : 1 + rng.int(MAX_DATA_BYTES);
  if (rng.chance(0.2)) {
    const data = new Uint8Array(size);
    fill(data, rng.int(2 ** 31));
    await client.createAndSeal(id, data, metadataFor(data));
    counts.creates++;
    counts.seals++;
    known.push(id);
    return;
  }
  const scratch = new Uint8Array(size);
  fill(scratch, rng.int(2 ** 31));
  const metadata = metadataFor(scratch);
  const buffer = await client.create(id, size, metadata, { waitMs: rng.chance(0.3) ? 200 : 0 });
  counts.creates++;
  buffer.set(scratch);
  if (rng.chance(0.1)) {
    await client.abort(id);
    counts.aborts++;
    return;
  }
  // The buffer is dead from here: a collection before the release must not make release() fail.
  await client.seal(id);
  counts.seals++;
  known.push(id);
  await client.release(id);
  counts.releases++;
}

async function getAndVerify(): Promise<void> {
  if (known.length === 0) return;
  const ids = Array.from({ length: 1 + rng.int(3) }, () => rng.pick(known));
  const results = await client.getBuffers(ids, { withMeta: true, timeoutMs: rng.pick([0, 0, 20]) });
  counts.gets++;
  for (const [i, result] of results.entries()) {
    const id = ids[i] as ObjectID;
    if (result === null) continue; // evicted or deleted meanwhile: not an error
    verify(result.data, result.metadata, id);
    if (rng.chance(0.1)) {
      // The store's hash of data + metadata matches one computed here from the shared-memory view.
      const both = new Uint8Array(result.data.length + result.metadata.length);
      both.set(result.data);
      both.set(result.metadata, result.data.length);
      const local = new Uint8Array(8);
      new DataView(local.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(Bun.hash.xxHash64(both))), false);
      const remote = await client.hash(id);
      counts.hashChecks++;
      if (!remote.every((b, j) => b === local[j])) {
        counts.mismatches++;
        counts.errors.push(`hash mismatch in ${id.hex()}`);
      }
    }
    if (held.length < MAX_HELD && rng.chance(0.2)) {
      held.push({ id, data: result.data, metadata: result.metadata });
    } else {
      await client.release(id);
      counts.releases++;
      // A reference lives with its buffer: using it after the release keeps it reachable until then.
      counts.bytesVerified += result.data.length;
    }
  }
}

async function releaseHeld(): Promise<void> {
  const entry = held.splice(rng.int(held.length), 1)[0];
  if (entry === undefined) return;
  // Content held across other clients' activity must not have changed.
  verify(entry.data, entry.metadata, entry.id);
  await client.release(entry.id);
  counts.releases++;
  counts.bytesVerified += entry.data.length;
}

while (Date.now() < deadline) {
  counts.ops++;
  const roll = rng.next();
  try {
    if (roll < 0.4) await create();
    else if (roll < 0.75) await getAndVerify();
    else if (roll < 0.85) await releaseHeld();
    else if (roll < 0.92) {
      if (known.length > 0) counts.deletes += await client.delete([rng.pick(known)]);
    } else if (roll < 0.95) {
      await client.evict(rng.int(1024 * 1024));
      counts.evictions++;
    } else {
      known = (await client.list()).filter((o) => o.state === "sealed").map((o) => o.id);
      counts.lists++;
    }
  } catch (error) {
    expected(error);
  }
}
for (const entry of held.splice(0)) {
  verify(entry.data, entry.metadata, entry.id);
  await client.release(entry.id);
  counts.bytesVerified += entry.data.length;
}
await client.disconnect();
console.log(JSON.stringify(counts));
