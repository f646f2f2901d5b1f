import { isIP } from "node:net";

/**
 * The Host header check of admin HTTP, against DNS rebinding: a page on evil.example that makes its name
 * resolve to 127.0.0.1 reaches the admin port with `Host: evil.example:9090`. Accepted are IP literals
 * (a rebinding needs a name the attacker controls), `localhost` and `*.localhost` (browsers resolve them
 * to loopback themselves), the host the plane listens on, and the names an operator allows
 * (--admin-allowed-host). The port is not compared: a rebinding does not change it, and behind a
 * published container port it differs from the one listened on.
 */
export function createHostCheck(
  listenHost: string,
  allowedHosts: readonly string[],
): (host: string | null) => boolean {
  const allowed = new Set([listenHost, ...allowedHosts].map(normaliseName));
  return (host) => {
    if (host === null) return false;
    const name = hostNameOf(host);
    if (name === null) return false;
    if (isIP(name) !== 0) return true;
    if (name === "localhost" || name.endsWith(".localhost")) return true;
    return allowed.has(name);
  };
}

function normaliseName(name: string): string {
  const lower = name.trim().toLowerCase().replace(/\.$/, "");
  return lower.startsWith("[") && lower.endsWith("]") ? lower.slice(1, -1) : lower;
}

/** The name of a Host header value without its port ("[::1]:9090" gives "::1"), or null if malformed. */
export function hostNameOf(host: string): string | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+))(?::[0-9]{1,5})?$/.exec(host.trim());
  if (match === null) return null;
  return normaliseName((match[1] ?? match[2]) as string);
}
