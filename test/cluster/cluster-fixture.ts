/** Memberships on a test's private etcd, with their log lines captured. */
import pino from "pino";
import type { ClusterDirectoryBackend } from "../../src/cluster/etcd/backend.ts";
import { EtcdGatewayClient } from "../../src/cluster/etcd/client.ts";
import { ClusterMembership } from "../../src/cluster/membership.ts";

export interface LogLine {
  readonly level: number;
  readonly msg: string;
}

export interface TestMember {
  readonly membership: ClusterMembership;
  readonly backend: EtcdGatewayClient;
  readonly logs: LogLine[];
  /** Txn calls with their op counts. */
  readonly txnOps: number[];
}

/** The backend, counting the ops of every txn it sends. */
function counting(backend: EtcdGatewayClient, txnOps: number[]): ClusterDirectoryBackend {
  return {
    get: (prefix) => backend.get(prefix),
    put: (key, value, lease) => backend.put(key, value, lease),
    delete: (key) => backend.delete(key),
    txn: (request) => {
      txnOps.push(request.ops.length);
      return backend.txn(request);
    },
    grantLease: (ttlS) => backend.grantLease(ttlS),
    revokeLease: (lease) => backend.revokeLease(lease),
    keepAlive: (lease, ttlS, handlers) => backend.keepAlive(lease, ttlS, handlers),
    watch: (prefix, fromRevision, handlers) => backend.watch(prefix, fromRevision, handlers),
    close: () => backend.close(),
  };
}

export async function startMember(
  clientUrl: string,
  nodeName: string,
  options: { leaseTtlS?: number; clusterName?: string } = {},
): Promise<TestMember> {
  const backend = new EtcdGatewayClient({ endpoints: clientUrl, requestTimeoutMs: 1000 });
  const logs: LogLine[] = [];
  const txnOps: number[] = [];
  const logger = pino(
    { level: "debug" },
    { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) },
  );
  const membership = await ClusterMembership.start({
    backend: counting(backend, txnOps),
    endpoints: backend.endpoints,
    clusterName: options.clusterName ?? "test",
    nodeName,
    leaseTtlS: options.leaseTtlS ?? 2,
    node: {
      transferAddress: `127.0.0.1:${5000 + nodeName.length}`,
      capacityBytes: 1 << 30,
      usedBytes: 0,
      startTimeMs: Date.now(),
    },
    logger,
  }).catch((error: unknown) => {
    backend.close();
    throw error;
  });
  return { membership, backend, logs, txnOps };
}

export async function stopMember(member: TestMember, revoke = true): Promise<void> {
  await member.membership.close({ revoke });
  member.backend.close();
}

export const idHex = (n: number): string => n.toString(16).padStart(40, "0");
export const WARN = 40;
