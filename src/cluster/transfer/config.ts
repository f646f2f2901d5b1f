/** Settings of the transfer service: addresses, the token rule, TLS material. */
import { readFileSync } from "node:fs";
import { isLoopbackHost } from "../../cli-support/loopback.ts";
import { ClusterConfigError } from "./errors.ts";
import type { TransferAddress } from "./types.ts";

export const DEFAULT_CLUSTER_LISTEN = "127.0.0.1:50052";

/** TLS for the server side (cert + key; ca, when given, is also trusted for pulls this store makes). */
export interface TransferTls {
  cert: string;
  key: string;
  ca?: string;
}

/** TLS for the pulling side: the CA that signed the peers' certificates, and an optional client cert. */
export interface TransferClientTls {
  ca?: string;
  cert?: string;
  key?: string;
  /** The name the peer's certificate must carry (default: the host dialled). */
  serverName?: string;
}

/** Parses HOST:PORT ("127.0.0.1:50052", "[::1]:0", "store-a:50052"). Throws ClusterConfigError. */
export function parseTransferAddress(text: string, flag = "--cluster-listen"): TransferAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):([0-9]{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (match === null || port > 65535) {
    throw new ClusterConfigError(
      `${flag} ${JSON.stringify(text)} is not HOST:PORT (e.g. 127.0.0.1:50052, [::1]:0, 10.0.0.11:50052).`,
    );
  }
  return { host: (match[1] ?? match[2]) as string, port };
}

export function formatTransferAddress(address: TransferAddress): string {
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** A transfer service on a non-loopback address must have a token. Throws ClusterConfigError. */
export function checkTransferSecurity(listen: TransferAddress, token: string | undefined): void {
  if (token || isLoopbackHost(listen.host)) return;
  throw new ClusterConfigError(
    `--cluster-listen ${formatTransferAddress(listen)} is not a loopback address: set --cluster-token TOKEN (or PLASMA_CLUSTER_TOKEN) so other stores must authenticate to pull objects from this one.`,
  );
}

export interface TransferTlsPaths {
  certPath?: string | undefined;
  keyPath?: string | undefined;
  caPath?: string | undefined;
}

/** Reads --cluster-tls-cert/-key/-ca; null when none is set. Throws ClusterConfigError. */
export function loadTransferTls(paths: TransferTlsPaths): TransferTls | null {
  const { certPath, keyPath, caPath } = paths;
  if (certPath === undefined && keyPath === undefined && caPath === undefined) return null;
  if (certPath === undefined || keyPath === undefined) {
    throw new ClusterConfigError(
      "TLS for the cluster needs both --cluster-tls-cert and --cluster-tls-key (and optionally --cluster-tls-ca).",
    );
  }
  const read = (path: string, flag: string): string => {
    try {
      return readFileSync(path, "utf8");
    } catch (error) {
      throw new ClusterConfigError(`${flag} ${path}: ${(error as Error).message}`);
    }
  };
  const tls: TransferTls = {
    cert: read(certPath, "--cluster-tls-cert"),
    key: read(keyPath, "--cluster-tls-key"),
  };
  if (caPath !== undefined) tls.ca = read(caPath, "--cluster-tls-ca");
  return tls;
}
