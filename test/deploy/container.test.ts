// The container image, built from the repository's Dockerfile and run for real with podman (see
// test/deploy/podman.ts for why podman and how the base image is made here). When podman cannot run
// containers on this machine the tests are skipped with the reason printed, and under CI=true that is an
// error naming what is missing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { prerequisite } from "../helpers/prerequisites.ts";
import { runCommand, startLine } from "../helpers/run.ts";
import { runClientProcess, tempDir } from "../helpers/store-process.ts";
import { buildImage, ensureBaseImage, podman, podmanAsync, podmanProblem, REPO } from "./podman.ts";

// Each container test runs podman containers (seconds to minutes on a loaded machine): each takes
// CONTAINER_TEST_MS instead of package.json's 120 s; the image build in beforeAll takes up to 300 s.
const CONTAINER_TEST_MS = 240_000;
/** A test with the container timeout (bun's per-test third argument; the one mechanism besides --timeout). */
function containerTest(name: string, body: () => Promise<void>): void {
  test(name, body, CONTAINER_TEST_MS);
}

const IMAGE = "localhost/bun-plasma:test";
const PUT_GET = join(REPO, "examples/put-get.ts");
const MiB = 1024 * 1024;
const suffix = `${process.pid}-${Math.floor(Math.random() * 1e6)}`;
const hasPodman = prerequisite("rootful podman with runc", podmanProblem());

let work = "";
const containers: string[] = [];

function name(what: string): string {
  const n = `plasma-test-${what}-${suffix}`;
  containers.push(n);
  return n;
}

/** Polls until check() holds; throws with `what` and the last detail after timeoutMs. */
async function waitFor(what: string, check: () => boolean | string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: boolean | string = false;
  while (Date.now() < deadline) {
    last = check();
    if (last === true) return;
    await Bun.sleep(250);
  }
  throw new Error(`timed out waiting for ${what}${typeof last === "string" ? `: ${last}` : ""}`);
}

function logs(container: string): string {
  const r = podman(["logs", container]);
  return r.stdout + r.stderr;
}

/** A socket volume as a host directory: owned by the image's bun user (uid 1000), like a fresh volume. */
function socketVolume(what: string): string {
  const dir = join(work, what);
  mkdirSync(dir, { recursive: true });
  chownSync(dir, 1000, 1000);
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * Runs examples/put-get.ts against the store's socket in a one-off container of the image, as user
 * 2000:2000 with the socket volume mounted; `flags` go to podman run, `args` to put-get.ts after the socket.
 */
function putGetInContainer(volume: string, flags: string[], args: string[] = []) {
  return podmanAsync([
    "run",
    "--rm",
    "--network",
    "none",
    "--user",
    "2000:2000",
    "--no-healthcheck",
    ...flags,
    "-v",
    `${volume}:/run/plasma`,
    "--entrypoint",
    "bun",
    IMAGE,
    "/app/examples/put-get.ts",
    "/run/plasma/plasma.sock",
    ...args,
  ]);
}

beforeAll(async () => {
  work = tempDir("plasma-container-");
  if (!hasPodman) return;
  const base = ensureBaseImage();
  const built = await buildImage(IMAGE, base);
  if (built.code !== 0)
    throw new Error(`podman build failed:\n${built.stdout.slice(-4000)}\n${built.stderr.slice(-4000)}`);
}, 300_000);

afterAll(() => {
  for (const c of containers) podman(["rm", "-f", "-t", "0", c]);
  if (work !== "") rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!hasPodman)("the container image", () => {
  containerTest(
    "store container: a sealed memfd arena larger than /dev/shm, clients through the socket volume (host, other user), healthy, clean stop",
    async () => {
      const volume = socketVolume("run-plasma");
      const store = name("store");
      const run = podman([
        "run",
        "-d",
        "--name",
        store,
        "--network",
        "none",
        // The default arena is a memfd, not a file in /dev/shm: a /dev/shm smaller than -m does not matter.
        "--shm-size=16m",
        "-v",
        `${volume}:/run/plasma`,
        "-e",
        "PLASMA_MEMORY=64MiB",
        "-e",
        "PLASMA_ADMIN_TOKEN=test-token",
        IMAGE,
        // Flags after the image name work as with the CLI.
        "--socket-mode",
        "0660",
      ]);
      expect(run.stderr).not.toContain("Error");
      expect(run.code).toBe(0);
      const socket = join(volume, "plasma.sock");
      await waitFor("the store's socket in the volume", () => existsSync(socket) || logs(store));
      await waitFor("the start line", () => logs(store).includes("plasma_store started") || logs(store));

      const started = startLine(logs(store));
      expect(started).toMatchObject({
        backing: "memfd",
        directory: null,
        arenaBytes: 64 * MiB,
        reservedBytes: 0,
        arenaAccess: "mapped",
        socket: "/run/plasma/plasma.sock",
        socketMode: "0660",
        adminHttp: "0.0.0.0:9090",
      });
      // PID 1 is the store itself, running as the non-root bun user.
      expect(started.pid).toBe(1);
      const top = podman(["exec", store, "bun", "-e", "console.log(process.getuid(), process.getgid())"]);
      expect(top.stdout.trim()).toBe("1000 1000");

      // A client on the host, through the volume.
      const host = await runClientProcess(PUT_GET, [socket, String(4 * MiB)], { timeoutMs: 60_000 });
      expect(host.stderr).toBe("");
      expect(JSON.parse(host.stdout)).toMatchObject({
        ok: true,
        sizeBytes: 4 * MiB,
        capacityBytes: 64 * MiB,
      });

      // A client in a second container, as another user that shares the socket's group.
      const other = await putGetInContainer(volume, ["--group-add", "1000"], [String(2 * MiB)]);
      expect(other.code).toBe(0);
      expect(JSON.parse(other.stdout.trim())).toMatchObject({ ok: true, uid: 2000 });

      // The same user without the group is refused by the socket's permissions.
      const outsider = await putGetInContainer(volume, ["-e", "PLASMA_CONNECT_RETRIES=0"]);
      expect(outsider.code).not.toBe(0);
      expect(outsider.stderr).toMatch(/EACCES|permission denied/i);

      // The image's HEALTHCHECK (GET /healthz inside the container) passes.
      const health = podman(["healthcheck", "run", store]);
      expect(health.code).toBe(0);
      expect(podman(["inspect", "--format", "{{.State.Health.Status}}", store]).stdout.trim()).toBe(
        "healthy",
      );

      // podman stop sends SIGTERM to PID 1: the store exits 0 on its own (not 137 from the SIGKILL that
      // follows the 30 s grace period) and removes its socket from the volume.
      const stop = await podmanAsync(["stop", "-t", "30", store], 90_000);
      expect(stop.code).toBe(0);
      expect(podman(["inspect", "--format", "{{.State.ExitCode}}", store]).stdout.trim()).toBe("0");
      expect(logs(store)).toContain("plasma_store stopped");
      expect(existsSync(socket)).toBe(false);
    },
  );

  containerTest(
    "with PLASMA_DIRECTORY=/dev/shm, a /dev/shm smaller than -m refuses to start and says which --shm-size to use",
    async () => {
      const tooSmall = await podmanAsync([
        "run",
        "--rm",
        "--network",
        "none",
        "--shm-size=16m",
        "-e",
        "PLASMA_DIRECTORY=/dev/shm",
        "-e",
        "PLASMA_ADMIN_HTTP=off",
        "-e",
        "PLASMA_ADMIN_GRPC=off",
        IMAGE,
        "-m",
        "64MiB",
      ]);
      expect(tooSmall.code).toBe(1);
      expect(tooSmall.stderr).toContain("plasma_store: -d /dev/shm has 16MiB free");
      expect(tooSmall.stderr).toContain("--shm-size=64m");
      expect(tooSmall.stderr).toContain("lower -m to at most 16777216 bytes");
    },
  );

  containerTest(
    "the image binds the admin plane to 0.0.0.0: without a token it refuses to start and says what to set",
    async () => {
      const noToken = await podmanAsync([
        "run",
        "--rm",
        "--network",
        "none",
        "--shm-size=128m",
        IMAGE,
        "-m",
        "8MiB",
      ]);
      expect(noToken.code).not.toBe(0);
      expect(noToken.stderr).toMatch(/PLASMA_ADMIN_TOKEN|--admin-token/);
    },
  );

  containerTest(
    "compose.yaml: the store and the example client service put and get through the socket volume",
    async () => {
      const project = `plasmatest${suffix.replace(/-/g, "")}`;
      const freePort = () => {
        const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
        const port = s.port;
        s.stop(true);
        return String(port);
      };
      const httpPort = freePort();
      const env = {
        ...process.env,
        CONTAINERS_CONF: join(import.meta.dir, "containers.conf"),
        BUILDAH_ISOLATION: "chroot",
        PLASMA_IMAGE: IMAGE,
        PLASMA_ADMIN_TOKEN: "compose-token",
        PLASMA_HTTP_PORT: httpPort,
        PLASMA_GRPC_PORT: freePort(),
      };
      const compose = (args: string[]) =>
        runCommand(["podman-compose", "-p", project, "-f", join(REPO, "compose.yaml"), ...args], {
          cwd: REPO,
          env,
          timeoutMs: 240_000,
        });
      const storeName = `${project}_plasma_1`;
      const clientName = `${project}_client_1`;
      containers.push(storeName, clientName);
      try {
        const up = await compose(["up", "-d"]);
        expect(up.code).toBe(0);
        // The client waits for the store (connect retries), puts, gets and exits.
        const waited = await podmanAsync(["wait", clientName], 120_000);
        expect(waited.stdout.trim()).toBe("0");
        const clientOut = logs(clientName);
        const result = clientOut.split("\n").find((l) => l.startsWith("{"));
        expect(JSON.parse(result as string)).toMatchObject({ ok: true, uid: 2000, capacityBytes: 256 * MiB });
        expect(startLine(logs(storeName))).toMatchObject({
          backing: "memfd",
          directory: null,
          arenaBytes: 256 * MiB,
        });
        // The admin port is published on the host's loopback.
        const healthz = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
        expect(healthz.status).toBe(200);
        const stopped = await compose(["stop"]);
        expect(stopped.code).toBe(0);
        expect(podman(["inspect", "--format", "{{.State.ExitCode}}", storeName]).stdout.trim()).toBe("0");
      } finally {
        await compose(["down", "-v"]);
        podman(["network", "rm", "-f", `${project}_default`]);
      }
    },
  );
});
