// Walkthrough §1-2: start the store, then connect a client to it.
//
//   plasma_store -m 1000000000 -s /tmp/plasma        # (bunx plasma_store … from this package)
//   PLASMA_SOCKET=/tmp/plasma bun examples/01-connect.ts
import { connect } from "bun-plasma";

const socketPath = process.env.PLASMA_SOCKET ?? process.argv[2] ?? "/tmp/plasma";
// Like plasma.connect("/tmp/plasma"); retries cover a store that is still starting.
const client = await connect(socketPath, { retries: 50, retryDelayMs: 100 });
console.log(`connected to ${client.socketPath}`);
console.log(`store capacity: ${client.capacityBytes} bytes`);
await client.disconnect();
