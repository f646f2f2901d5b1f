/** The --cluster-* flags and PLASMA_CLUSTER_* environment, read into ClusterNodeOptions. */
import { hostname } from "node:os";
import { UsageError } from "../cli-support/usage-error.ts";
import { isValidName } from "../cluster/directory.ts";
import type { ClusterNodeOptions } from "../cluster/node.ts";
import {
  checkTransferSecurity,
  DEFAULT_CLUSTER_LISTEN,
  loadTransferTls,
  parseTransferAddress,
} from "../cluster/transfer/config.ts";

export const DEFAULT_CLUSTER_NAME = "default";
export const DEFAULT_CLUSTER_LEASE_TTL_S = 10;

export const CLUSTER_PARSE_OPTIONS = {
  "cluster-etcd": { type: "string" },
  "cluster-name": { type: "string" },
  "node-name": { type: "string" },
  "cluster-listen": { type: "string" },
  "cluster-advertise": { type: "string" },
  "cluster-token": { type: "string" },
  "cluster-tls-cert": { type: "string" },
  "cluster-tls-key": { type: "string" },
  "cluster-tls-ca": { type: "string" },
  "cluster-lease-ttl-s": { type: "string" },
} as const;

export const CLUSTER_USAGE = `      --cluster-etcd URLS       comma-separated etcd endpoints: joins a cluster of stores that pull
                                each other's objects (default: no cluster)
      --cluster-name NAME       key prefix in etcd, so clusters share one etcd (default ${DEFAULT_CLUSTER_NAME})
      --node-name NAME          this store's name in the cluster, unique (default: the hostname)
      --cluster-listen HOST:PORT store-to-store transfer service (default ${DEFAULT_CLUSTER_LISTEN}; port 0:
                                a free one)
      --cluster-advertise HOST:PORT the address other stores dial (default: the listen address)
      --cluster-token TOKEN     every transfer call carries it (required on a non-loopback listen)
      --cluster-tls-cert FILE, --cluster-tls-key FILE, --cluster-tls-ca FILE  TLS for transfers
      --cluster-lease-ttl-s N   etcd lease TTL in seconds (default ${DEFAULT_CLUSTER_LEASE_TTL_S})`;

export const CLUSTER_ENV_USAGE =
  "PLASMA_CLUSTER_ETCD, PLASMA_CLUSTER_NAME, PLASMA_CLUSTER_NODE_NAME, PLASMA_CLUSTER_LISTEN, " +
  "PLASMA_CLUSTER_ADVERTISE, PLASMA_CLUSTER_TOKEN, PLASMA_CLUSTER_TLS_CERT, PLASMA_CLUSTER_TLS_KEY, " +
  "PLASMA_CLUSTER_TLS_CA, PLASMA_CLUSTER_LEASE_TTL_S";

type ClusterFlagValues = Partial<Record<keyof typeof CLUSTER_PARSE_OPTIONS, string>>;

/** The cluster settings, or undefined without --cluster-etcd. Throws UsageError (ClusterConfigError). */
export function resolveClusterOptions(
  values: ClusterFlagValues,
  env: Record<string, string | undefined>,
): ClusterNodeOptions | undefined {
  const pick = (flag: keyof ClusterFlagValues, variable: string): string | undefined =>
    values[flag] ?? (env[`PLASMA_CLUSTER_${variable}`] || undefined);
  const etcd = pick("cluster-etcd", "ETCD");
  if (etcd === undefined) return undefined;
  if (etcd.split(",").every((url) => url.trim() === "")) {
    throw new UsageError("--cluster-etcd takes comma-separated etcd URLs, e.g. http://10.0.0.5:2379.");
  }
  const clusterName = pick("cluster-name", "NAME") ?? DEFAULT_CLUSTER_NAME;
  const nodeName = pick("node-name", "NODE_NAME") ?? hostname();
  for (const [flag, name] of [
    ["--cluster-name", clusterName],
    ["--node-name", nodeName],
  ] as const) {
    if (!isValidName(name)) {
      throw new UsageError(
        `${flag} ${JSON.stringify(name)}: 1-63 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit.`,
      );
    }
  }
  const listen = parseTransferAddress(pick("cluster-listen", "LISTEN") ?? DEFAULT_CLUSTER_LISTEN);
  const advertise = pick("cluster-advertise", "ADVERTISE");
  if (advertise !== undefined) parseTransferAddress(advertise, "--cluster-advertise");
  const token = pick("cluster-token", "TOKEN");
  checkTransferSecurity(listen, token);
  const tls = loadTransferTls({
    certPath: pick("cluster-tls-cert", "TLS_CERT"),
    keyPath: pick("cluster-tls-key", "TLS_KEY"),
    caPath: pick("cluster-tls-ca", "TLS_CA"),
  });
  const ttlText = pick("cluster-lease-ttl-s", "LEASE_TTL_S");
  const leaseTtlS = ttlText === undefined ? DEFAULT_CLUSTER_LEASE_TTL_S : Number(ttlText);
  if (!Number.isSafeInteger(leaseTtlS) || leaseTtlS < 2 || leaseTtlS > 3600) {
    throw new UsageError(
      `--cluster-lease-ttl-s takes whole seconds from 2 to 3600, got ${JSON.stringify(ttlText)}.`,
    );
  }
  return { etcd, clusterName, nodeName, listen, advertise, token, tls, leaseTtlS };
}
