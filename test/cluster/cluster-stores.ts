/** Real plasma_store processes in one cluster on a test's private etcd, and clients connected to them. */
import { afterAll, beforeAll } from "bun:test";
import { connect, type PlasmaClient } from "../../src/client/index.ts";
import { type EtcdInstance, startEtcd } from "../helpers/etcd.ts";
import { type StoreProcess, startStoreProcess } from "../helpers/store-process.ts";

export interface ClusterStore {
  readonly name: string;
  readonly process: StoreProcess;
  readonly client: PlasmaClient;
  /** The transfer address from the start-up line. */
  readonly transferAddress: string;
  readonly pid: number;
  /** Disconnects and stops the store (SIGTERM unless said); safe to call twice. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

export interface ClusterStoreOptions {
  memory?: string;
  args?: string[];
  leaseTtlS?: number;
}

/** Starts one store named `name` in the cluster on `etcd` (transfer service on a free loopback port). */
export async function startClusterStore(
  etcd: EtcdInstance,
  name: string,
  options: ClusterStoreOptions = {},
): Promise<ClusterStore> {
  const process = await startStoreProcess({
    ...(options.memory === undefined ? {} : { memory: options.memory }),
    args: [
      ...["--cluster-etcd", etcd.clientUrl, "--node-name", name, "--cluster-listen", "127.0.0.1:0"],
      ...["--cluster-lease-ttl-s", String(options.leaseTtlS ?? 10)],
      ...(options.args ?? []),
    ],
  });
  const line =
    process
      .output()
      .split("\n")
      .find((l) => l.includes("plasma_store started")) ?? "";
  const transferAddress = (JSON.parse(line) as { transferAddress: string }).transferAddress;
  const client = await connect(process.socketPath);
  let disconnected = false;
  return {
    name,
    process,
    client,
    transferAddress,
    pid: process.proc.pid,
    async stop(signal) {
      if (!disconnected) {
        disconnected = true;
        await client.disconnect().catch(() => undefined);
      }
      return process.stop(signal);
    },
  };
}

/** Stops every store given (by its own pid, through its handle), whatever state it is in. */
export async function stopAll(stores: readonly (ClusterStore | undefined)[]): Promise<void> {
  await Promise.all(
    stores.map(async (store) => {
      if (store === undefined) return;
      try {
        process.kill(store.pid, "SIGCONT");
      } catch {
        // already gone
      }
      await store.stop("SIGKILL");
    }),
  );
}

/** A test file's private etcd and the stores it starts in named clusters on it. */
export interface ClusterFixture {
  readonly etcd: EtcdInstance;
  /** Starts store `name` in cluster `cluster` (extra options as startClusterStore's). */
  store(name: string, cluster: string, options?: ClusterStoreOptions): Promise<ClusterStore>;
}

/** Starts etcd before the file's tests; stops every store started through it, then etcd, after them. */
export function useCluster(): ClusterFixture {
  let etcd: EtcdInstance | undefined;
  const started: ClusterStore[] = [];
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    await stopAll(started);
    await etcd?.stop();
  });
  const running = (): EtcdInstance => {
    if (etcd === undefined) throw new Error("etcd is started in beforeAll: use the fixture inside tests");
    return etcd;
  };
  return {
    get etcd() {
      return running();
    },
    async store(name, cluster, options = {}) {
      const args = ["--cluster-name", cluster, ...(options.args ?? [])];
      const store = await startClusterStore(running(), name, { ...options, args });
      started.push(store);
      return store;
    },
  };
}
