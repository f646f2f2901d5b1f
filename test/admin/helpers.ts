import { join } from "node:path";
import { AdminClient } from "../../src/admin/client.ts";
import { startLine } from "../helpers/run.ts";
import { type StoreProcess, startStoreProcess } from "../helpers/store-process.ts";

export const ADMIN_CLI = join(import.meta.dir, "../../src/admin/cli.ts");
export const FIXTURES = join(import.meta.dir, "fixtures");

export interface AdminStore {
  store: StoreProcess;
  /** HOST:PORT of admin gRPC / HTTP as the store logged them. */
  grpc: string;
  http: string;
  admin: AdminClient;
  stop(): Promise<void>;
}

/** The admin addresses from the store's "plasma_store started" line. */
export function adminAddresses(output: string): { grpc: string | null; http: string | null } {
  const parsed = startLine(output) as { adminGrpc: string | null; adminHttp: string | null };
  return { grpc: parsed.adminGrpc, http: parsed.adminHttp };
}

/** A real plasma_store with its admin plane on free loopback ports, and an admin gRPC client. */
export async function startAdminStore(
  options: { memory?: string; args?: string[]; token?: string; env?: Record<string, string> } = {},
): Promise<AdminStore> {
  const store = await startStoreProcess({
    memory: options.memory,
    args: ["--admin-grpc", "127.0.0.1:0", "--admin-http", "127.0.0.1:0", ...(options.args ?? [])],
    env: options.env,
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

/** Runs plasma-admin; resolves with its output and exit code. */
export async function runAdminCli(
  args: string[],
  options: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string; bytes: Uint8Array }> {
  const proc = Bun.spawn(["bun", ADMIN_CLI, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, PLASMA_ADMIN_TOKEN: "", ...options.env },
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  const [bytes, stderr, code] = await Promise.all([
    new Response(proc.stdout).bytes(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { code, stdout: new TextDecoder().decode(bytes), stderr, bytes };
}

/** A deterministic byte pattern, so data read back can be checked without keeping a copy. */
export function pattern(sizeBytes: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(sizeBytes);
  for (let i = 0; i < sizeBytes; i++) bytes[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return bytes;
}

export function hexId(n: number): string {
  return n.toString(16).padStart(40, "0");
}
