import { AdminClient } from "../../src/admin/client.ts";
import { startLine } from "./run.ts";
import { type StoreProcess, type StoreProcessOptions, startStoreProcess } from "./store-process.ts";

export interface AdminStore {
  store: StoreProcess;
  /** HOST:PORT of admin gRPC / HTTP as the store logged them. */
  grpc: string;
  http: string;
  admin: AdminClient;
  stop(): Promise<void>;
}

export interface AdminStoreOptions extends StoreProcessOptions {
  /** The admin client's bearer token. */
  token?: string;
}

/** The admin addresses from the store's "plasma_store started" line. */
export function adminAddresses(output: string): { grpc: string | null; http: string | null } {
  const parsed = startLine(output) as { adminGrpc: string | null; adminHttp: string | null };
  return { grpc: parsed.adminGrpc, http: parsed.adminHttp };
}

/** A real plasma_store with its admin plane on free loopback ports (port 0), and an admin gRPC client. */
export async function startAdminStore(options: AdminStoreOptions = {}): Promise<AdminStore> {
  const store = await startStoreProcess({
    ...options,
    args: ["--admin-grpc", "127.0.0.1:0", "--admin-http", "127.0.0.1:0", ...(options.args ?? [])],
  });
  const { grpc, http } = adminAddresses(store.output());
  if (grpc === null || http === null) {
    await store.stop();
    throw new Error(`admin plane not started:\n${store.output()}`);
  }
  const admin = new AdminClient(grpc, { token: options.token });
  return {
    store,
    grpc,
    http,
    admin,
    async stop() {
      admin.close();
      await store.stop();
    },
  };
}
