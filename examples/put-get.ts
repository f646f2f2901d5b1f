// Puts one object into a running plasma_store and gets it back, through the socket (the compose.yaml
// example client, also used by the tests).
//
//   bun examples/put-get.ts [SOCKET] [SIZE_BYTES]
//
// SOCKET defaults to $PLASMA_SOCKET or /run/plasma/plasma.sock; SIZE_BYTES to 1 MiB. Set
// PLASMA_CLIENT_POPULATE=1 to map the arena with MAP_POPULATE, PLASMA_CONNECT_RETRIES (default 300, 100 ms
// apart) to wait less for the store. Prints one JSON line and exits 0 when the bytes read back are the
// bytes written.
import { connect, ObjectID } from "../src/client/index.ts";

const socketPath = process.argv[2] ?? process.env.PLASMA_SOCKET ?? "/run/plasma/plasma.sock";
const sizeBytes = Number(process.argv[3] ?? 1024 * 1024);
const populate = process.env.PLASMA_CLIENT_POPULATE === "1";

// The store may still be starting: retry the connection for up to ~30 s.
const retries = Number(process.env.PLASMA_CONNECT_RETRIES ?? 300);
const client = await connect(socketPath, { retries, retryDelayMs: 100, populate });
const id = ObjectID.fromRandom();
const pattern = (i: number) => (i * 31 + 7) & 0xff;

const buffer = await client.create(id, sizeBytes, new TextEncoder().encode("put-get"));
for (let i = 0; i < sizeBytes; i += 4096) buffer[i] = pattern(i);
buffer[sizeBytes - 1] = 0x5a;
await client.seal(id);

// Read it back through a second connection: the bytes come from the store's shared memory.
const reader = await connect(socketPath, { populate });
const [view] = await reader.getBuffers([id], { timeoutMs: 10_000 });
let ok = view !== null && view !== undefined && view.length === sizeBytes && view[sizeBytes - 1] === 0x5a;
if (ok && view) for (let i = 0; i < sizeBytes - 1 && ok; i += 4096) ok = view[i] === pattern(i);
console.log(
  JSON.stringify({
    ok,
    id: id.hex(),
    sizeBytes,
    capacityBytes: client.capacityBytes,
    uid: process.getuid?.(),
  }),
);
await reader.disconnect();
await client.disconnect();
process.exit(ok ? 0 : 1);
