import { AdminClient } from "../../src/admin/client.ts";
import { adminTokenPathOf, readAdminTokenFile } from "../../src/admin/token-file.ts";
import { startLine } from "./run.ts";
import { type StoreProcess, type StoreProcessOptions, startStoreProcess } from "./store-process.ts";

export interface AdminStore {
  store: StoreProcess;
  /** HOST:PORT of admin gRPC / HTTP as the store logged them. */
  grpc: string;
  http: string;
  admin: AdminClient;
  /** The token `admin` sends: the one asked for, else the one the store wrote next to its socket. */
  token: string | undefined;
  /** `authorization: Bearer TOKEN` for admin HTTP requests (empty without a token), plus `extra`. */
  headers(extra?: Record<string, string>): Record<string, string>;
  stop(): Promise<void>;
}

export interface AdminStoreOptions extends StoreProcessOptions {
  /** The admin client's bearer token; default: the token the store generated (from its token file). */
  token?: string;
}

/** The token a store generated at start, from the file next to its socket; undefined when there is none. */
export function generatedToken(socketPath: string): string | undefined {
  return readAdminTokenFile(adminTokenPathOf(socketPath)) ?? undefined;
}

/** Admin HTTP headers carrying the token (none without one), plus `extra`. */
export function bearer(
  token: string | undefined,
  extra: Record<string, string> = {},
): Record<string, string> {
  return token === undefined ? extra : { ...extra, authorization: `Bearer ${token}` };
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
  const token = options.token ?? generatedToken(store.socketPath);
  const admin = new AdminClient(grpc, { token });
  return {
    store,
    grpc,
    http,
    admin,
    token,
    headers: (extra) => bearer(token, extra),
    async stop() {
      admin.close();
      await store.stop();
    },
  };
}
