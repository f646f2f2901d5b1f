// Puts one object into the store of one cluster node and gets it through the store of another: the
// compose.cluster.yaml example client, also run by test/deploy/cluster-container.test.ts.
//
//   bun examples/cluster-put-get.ts [SOCKET_A] [SOCKET_B] [SIZE_BYTES]
//
// SOCKET_A defaults to $PLASMA_SOCKET_A or /run/plasma-a/plasma.sock, SOCKET_B to $PLASMA_SOCKET_B or
// /run/plasma-b/plasma.sock, SIZE_BYTES to 3 MiB + 1 (several transfer chunks and a partial one).
// PLASMA_CONNECT_RETRIES (default 300, 100 ms apart) bounds the wait for the stores to start. Store B does
// not hold the object: its get pulls it from A through the transfer service. Prints one JSON line (the
// SHA-256 of what was put and of what was read back, the holders `locate` names, the live nodes) and exits
// 0 when B returned the bytes and metadata that were put on A and both nodes hold it afterwards.
import { createHash } from "node:crypto";
import { connect, ObjectID, type PlasmaClient } from "../src/client/index.ts";

const socketA = process.argv[2] ?? process.env.PLASMA_SOCKET_A ?? "/run/plasma-a/plasma.sock";
const socketB = process.argv[3] ?? process.env.PLASMA_SOCKET_B ?? "/run/plasma-b/plasma.sock";
const sizeBytes = Number(process.argv[4] ?? 3 * 1024 * 1024 + 1);
const retries = Number(process.env.PLASMA_CONNECT_RETRIES ?? 300);
const GET_TIMEOUT_MS = 30_000;
/** B registers its copy in etcd after it answered the get (batched, off the reply path). */
const LOCATE_DEADLINE_MS = 15_000;

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/** Until `locate` on `client` names at least `count` holders of `id` (or the deadline passes). */
async function holdersOf(client: PlasmaClient, id: ObjectID, count: number): Promise<string[]> {
  const deadline = Date.now() + LOCATE_DEADLINE_MS;
  for (;;) {
    const [holders = []] = await client.locate([id]);
    if (holders.length >= count || Date.now() > deadline) return [...holders].sort();
    await Bun.sleep(100);
  }
}

const a = await connect(socketA, { retries, retryDelayMs: 100 });
const b = await connect(socketB, { retries, retryDelayMs: 100 });

const id = ObjectID.fromRandom();
const data = new Uint8Array(sizeBytes);
crypto.getRandomValues(data.subarray(0, Math.min(sizeBytes, 65_536)));
for (let i = 65_536; i < sizeBytes; i++) data[i] = (i * 31 + 7) & 0xff;
const metadata = new TextEncoder().encode(JSON.stringify({ example: "cluster-put-get", sizeBytes }));
const buffer = await a.create(id, sizeBytes, metadata);
buffer.set(data);
await a.seal(id);

// Not on B: B finds A in the directory and pulls the bytes, then answers as for a local object.
const heldByBBefore = await b.contains(id);
const [view] = await b.getBuffers([id], { timeoutMs: GET_TIMEOUT_MS });
const [gotMetadata] = await b.getMetadata([id], { timeoutMs: GET_TIMEOUT_MS });
const got = view ?? new Uint8Array(0);
const result = {
  id: id.hex(),
  sizeBytes,
  heldByBBefore,
  found: view !== null && view !== undefined,
  putSha256: sha256(data),
  gotSha256: sha256(got),
  gotSizeBytes: got.length,
  metadataIdentical:
    gotMetadata !== null && gotMetadata !== undefined && sha256(gotMetadata) === sha256(metadata),
  heldByBAfter: await b.contains(id),
  locate: await holdersOf(b, id, 2),
  nodes: (await b.nodes())
    .map((n) => ({ name: n.name, transferAddress: n.transferAddress }))
    .sort((x, y) => x.name.localeCompare(y.name)),
};
const ok =
  result.found &&
  !heldByBBefore &&
  result.putSha256 === result.gotSha256 &&
  result.metadataIdentical &&
  result.heldByBAfter &&
  result.locate.length === 2;
console.log(JSON.stringify({ ok, ...result }));
await b.disconnect();
await a.disconnect();
process.exit(ok ? 0 : 1);
