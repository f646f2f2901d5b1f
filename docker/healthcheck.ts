// The container HEALTHCHECK, run inside the store's container: GET /healthz on the admin HTTP endpoint
// named by PLASMA_ADMIN_HTTP (0.0.0.0 and :: are reached on loopback). With PLASMA_ADMIN_HTTP=off it
// connects to the store's socket (PLASMA_SOCKET) instead. Exits 0 when healthy, 1 otherwise.
import { connect } from "../src/client/index.ts";

const address = process.env.PLASMA_ADMIN_HTTP ?? "127.0.0.1:9090";

async function viaSocket(): Promise<void> {
  const client = await connect(process.env.PLASMA_SOCKET ?? "/run/plasma/plasma.sock");
  await client.disconnect();
}

async function viaHttp(): Promise<void> {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):([0-9]{1,5})$/.exec(address.trim());
  if (match === null) throw new Error(`PLASMA_ADMIN_HTTP=${address} is not HOST:PORT`);
  const host = match[1] ?? match[2] ?? "127.0.0.1";
  const reach = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "[::1]" : match[1] ? `[${host}]` : host;
  const response = await fetch(`http://${reach}:${match[3]}/healthz`, { signal: AbortSignal.timeout(4000) });
  if (!response.ok) throw new Error(`/healthz answered ${response.status}`);
}

try {
  await (address.trim().toLowerCase() === "off" ? viaSocket() : viaHttp());
  process.exit(0);
} catch (error) {
  process.stderr.write(`unhealthy: ${(error as Error).message}\n`);
  process.exit(1);
}
