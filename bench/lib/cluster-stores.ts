/**
 * The stores the cluster section measures, with their clients: a private etcd (test/helpers/etcd.ts, on
 * free loopback ports), a source and two receivers in one cluster, and two stores without a cluster.
 */
import { existsSync } from "node:fs";
import type { PlasmaClient } from "../../src/client/index.ts";
import type { ObjectID } from "../../src/protocol/object-id.ts";
import { ETCD_BINARY, type EtcdInstance, startEtcd } from "../../test/helpers/etcd.ts";
import { type StoreProcessHandle, startStore } from "./env.ts";

export interface BenchStore {
  readonly store: StoreProcessHandle;
  readonly client: PlasmaClient;
}

export interface BenchCluster {
  /** Default pages, cluster on: where objects are put (and the seal row's "cluster on"). */
  readonly source: BenchStore;
  /** `--prefault`, cluster on: the pull rows' receiver, and the remote get's. */
  readonly prefault: BenchStore;
  /** Default pages, cluster on, nothing else ever written: each pull into it touches fresh pages. */
  readonly cold: BenchStore;
  /** Default pages, cluster off: the seal row's baseline. */
  readonly off: BenchStore;
  /** Cluster off, `--directory-entries 0`: every get is a round trip on the socket. */
  readonly socketOnly: BenchStore;
  stop(): Promise<void>;
}

const CLUSTER_NAME = "bench";

/** No admin plane: five stores would contend for its default ports (which other runs on this machine use). */
const ADMIN_OFF = ["--admin-grpc", "off", "--admin-http", "off"];

async function open(capacityBytes: number, flags: string[]): Promise<BenchStore> {
  const store = await startStore(capacityBytes, [...flags, ...ADMIN_OFF]);
  return { store, client: await store.connect() };
}

function clusterFlags(etcd: EtcdInstance, nodeName: string): string[] {
  return [
    ...["--cluster-etcd", etcd.clientUrl, "--cluster-name", CLUSTER_NAME, "--node-name", nodeName],
    ...["--cluster-listen", "127.0.0.1:0"],
  ];
}

/** Starts etcd and the five stores (each cluster store with `capacityBytes`, the others 256 MiB). */
export async function startBenchCluster(capacityBytes: number): Promise<BenchCluster> {
  if (!existsSync(ETCD_BINARY)) {
    throw new Error(
      `The cluster section needs etcd at ${ETCD_BINARY}: install Debian's etcd-server (or set PLASMA_TEST_ETCD).`,
    );
  }
  const etcd = await startEtcd();
  const started: BenchStore[] = [];
  const stop = async () => {
    for (const s of started) {
      await s.client.disconnect().catch(() => undefined);
      await s.store.stop();
    }
    await etcd.stop();
  };
  const add = async (capacity: number, flags: string[]) => {
    const s = await open(capacity, flags);
    started.push(s);
    return s;
  };
  try {
    const source = await add(capacityBytes, clusterFlags(etcd, "source"));
    const prefault = await add(capacityBytes, [...clusterFlags(etcd, "prefault"), "--prefault"]);
    const cold = await add(capacityBytes, clusterFlags(etcd, "cold"));
    const off = await add(256 * 2 ** 20, []);
    const socketOnly = await add(256 * 2 ** 20, ["--directory-entries", "0"]);
    return { source, prefault, cold, off, socketOnly, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Waits until the directory, as `client` reads it, lists `nodeName` as a holder of every id. */
export async function waitRegistered(
  client: PlasmaClient,
  ids: readonly ObjectID[],
  nodeName: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const holders = await client.locate(ids);
    if (holders.every((nodes) => nodes.includes(nodeName))) return;
    if (Date.now() > deadline) throw new Error(`${nodeName} did not register ${ids.length} objects`);
    await Bun.sleep(20);
  }
}

export const SOURCE_NODE = "source";
