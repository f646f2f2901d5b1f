/** A private etcd for one test file: Debian's `etcd` on free loopback ports with a temporary data dir. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

export const ETCD_BINARY = process.env.PLASMA_TEST_ETCD ?? "/usr/bin/etcd";

export interface EtcdInstance {
  /** e.g. http://127.0.0.1:41234 */
  readonly clientUrl: string;
  /** The pid of the current etcd process (changes on restart). */
  readonly pid: number;
  /** Stops etcd (SIGTERM, then SIGKILL) and removes its data directory. */
  stop(): Promise<void>;
  /** Sends a signal to etcd and, for SIGKILL/SIGTERM, waits until it has exited. */
  kill(signal: "SIGKILL" | "SIGTERM" | "SIGSTOP" | "SIGCONT"): Promise<void>;
  /** Starts etcd again on the same ports and data directory (after kill), and waits for /health. */
  restart(): Promise<void>;
}

/** A loopback port nothing listens on right now (the kernel's choice, released at once). */
function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

async function waitHealthy(clientUrl: string, child: Subprocess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`etcd exited (${child.exitCode ?? child.signalCode}) before it was healthy`);
    try {
      const response = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
      const body = (await response.json()) as { health?: string };
      if (body.health === "true") return;
    } catch {
      // not listening yet
    }
    await Bun.sleep(50);
  }
  throw new Error(`etcd at ${clientUrl} was not healthy after ${timeoutMs} ms`);
}

export async function startEtcd(): Promise<EtcdInstance> {
  const dataDir = mkdtempSync(join(tmpdir(), "plasma-etcd-"));
  const clientUrl = `http://127.0.0.1:${freePort()}`;
  const peerUrl = `http://127.0.0.1:${freePort()}`;
  const args = [
    ETCD_BINARY,
    ...["--name", "default", "--data-dir", join(dataDir, "data")],
    ...["--listen-client-urls", clientUrl, "--advertise-client-urls", clientUrl],
    ...["--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl],
    ...["--initial-cluster", `default=${peerUrl}`, "--log-level", "error", "--logger", "zap"],
  ];
  const spawn = async (): Promise<Subprocess> => {
    const child = Bun.spawn(args, { stdout: "ignore", stderr: "pipe" });
    await waitHealthy(clientUrl, child, 20_000);
    return child;
  };
  let child = await spawn();
  const exited = async (): Promise<void> => {
    await child.exited;
  };
  return {
    clientUrl,
    get pid() {
      return child.pid;
    },
    async kill(signal) {
      process.kill(child.pid, signal);
      if (signal === "SIGKILL" || signal === "SIGTERM") await exited();
    },
    async restart() {
      if (child.exitCode === null && child.signalCode === null)
        throw new Error("restart() needs etcd stopped first (kill SIGKILL/SIGTERM)");
      child = await spawn();
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid, "SIGCONT");
        process.kill(child.pid, "SIGTERM");
        const timer = setTimeout(() => child.exitCode === null && process.kill(child.pid, "SIGKILL"), 5000);
        await exited();
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
