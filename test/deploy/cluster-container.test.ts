// compose.cluster.yaml run for real with podman-compose: etcd (built from docker/etcd.Containerfile with
// the host's Debian etcd-server binary on the local base image, since no registry is reachable), two
// stores in their own containers with their own socket volumes, and the example client that puts through
// host-a's socket and gets through host-b's. Same podman settings and prerequisites as
// container.test.ts (test/deploy/podman.ts); under CI=true a missing prerequisite is an error.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ETCD_BINARY } from "../helpers/etcd.ts";
import { prerequisite } from "../helpers/prerequisites.ts";
import { runCommand, startLine } from "../helpers/run.ts";
import { tempDir } from "../helpers/store-process.ts";
import { clusterComposeProblem } from "./cluster-container-prerequisites.ts";
import { buildImage, ensureBaseImage, podman, podmanAsync, podmanProblem, REPO } from "./podman.ts";

const CONTAINER_TEST_MS = 300_000;
// Tags of this file's own: container.test.ts (run by other branches at the same time) builds bun-plasma:test.
const IMAGE = "localhost/bun-plasma:cluster-test";
const ETCD_IMAGE = "localhost/bun-plasma-etcd:test";
const MiB = 1024 * 1024;
const suffix = `${process.pid}${Math.floor(Math.random() * 1e6)}`;
const hasPodman = prerequisite("rootful podman with runc", podmanProblem());
const hasCompose =
  hasPodman && prerequisite("podman-compose with DNS on its networks", clusterComposeProblem());

let work = "";

function logs(container: string): string {
  const r = podman(["logs", container]);
  return r.stdout + r.stderr;
}

/** docker/etcd.Containerfile on the local base image, its context a directory holding the host's etcd. */
async function buildEtcdImage(baseImage: string): Promise<void> {
  const context = join(work, "etcd-context");
  mkdirSync(context, { recursive: true });
  copyFileSync(ETCD_BINARY, join(context, "etcd"));
  const built = await podmanAsync(
    [
      ...["build", "--isolation", "chroot", "--format", "docker", "--layers"],
      ...["--build-arg", `BASE_IMAGE=${baseImage}`, "-t", ETCD_IMAGE],
      ...["-f", join(REPO, "docker/etcd.Containerfile"), context],
    ],
    300_000,
  );
  if (built.code !== 0) throw new Error(`etcd image build failed:\n${built.stdout}\n${built.stderr}`);
}

beforeAll(async () => {
  work = tempDir("plasma-cluster-container-");
  if (!hasCompose) return;
  const base = ensureBaseImage();
  const built = await buildImage(IMAGE, base);
  if (built.code !== 0)
    throw new Error(`podman build failed:\n${built.stdout.slice(-4000)}\n${built.stderr.slice(-4000)}`);
  await buildEtcdImage(base);
}, 600_000);

afterAll(() => {
  if (work !== "") rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!hasCompose)("compose.cluster.yaml", () => {
  test(
    "etcd, host-a and host-b: a put through host-a's socket is read byte-identical through host-b's, and both hold it",
    async () => {
      const project = `plasmacluster${suffix}`;
      const env = {
        CONTAINERS_CONF: join(import.meta.dir, "containers.conf"),
        BUILDAH_ISOLATION: "chroot",
        PLASMA_IMAGE: IMAGE,
        ETCD_IMAGE,
        PLASMA_CLUSTER_TOKEN: randomBytes(32).toString("hex"),
      };
      const compose = (args: string[]) =>
        runCommand(["podman-compose", "-p", project, "-f", join(REPO, "compose.cluster.yaml"), ...args], {
          cwd: REPO,
          env,
          timeoutMs: 240_000,
        });
      const [etcd, hostA, hostB, client] = ["etcd", "host-a", "host-b", "client"].map(
        (s) => `${project}_${s}_1`,
      );
      try {
        const up = await compose(["up", "-d"]);
        expect(up.code).toBe(0);
        // The client waits for both sockets (connect retries), puts on A, gets on B and exits.
        const waited = await podmanAsync(["wait", client as string], 180_000);
        const clientOut = logs(client as string);
        expect({ exit: waited.stdout.trim(), clientOut }).toMatchObject({ exit: "0" });
        const line = clientOut.split("\n").find((l) => l.startsWith("{"));
        const result = JSON.parse(line as string) as Record<string, unknown>;
        expect(result).toMatchObject({
          ok: true,
          sizeBytes: 3 * MiB + 1,
          gotSizeBytes: 3 * MiB + 1,
          heldByBBefore: false,
          found: true,
          metadataIdentical: true,
          heldByBAfter: true,
          locate: ["host-a", "host-b"],
          nodes: [
            { name: "host-a", transferAddress: "host-a:50052" },
            { name: "host-b", transferAddress: "host-b:50052" },
          ],
        });
        expect(result.gotSha256).toBe(result.putSha256 as string);

        for (const [container, node] of [
          [hostA, "host-a"],
          [hostB, "host-b"],
        ] as const) {
          expect(startLine(logs(container as string))).toMatchObject({
            backing: "memfd",
            arenaBytes: 64 * MiB,
            clusterName: "compose",
            nodeName: node,
            transferAddress: `${node}:50052`,
            etcdEndpoints: ["http://etcd:2379"],
          });
        }
        // The token is never logged.
        for (const c of [hostA, hostB, client])
          expect(logs(c as string)).not.toContain(env.PLASMA_CLUSTER_TOKEN);

        const stopped = await compose(["stop"]);
        expect(stopped.code).toBe(0);
        for (const c of [hostA, hostB])
          expect(podman(["inspect", "--format", "{{.State.ExitCode}}", c as string]).stdout.trim()).toBe("0");
        expect(logs(etcd as string)).not.toContain('"level":"fatal"');
      } finally {
        await compose(["down", "-v"]);
        for (const c of [etcd, hostA, hostB, client]) podman(["rm", "-f", "-t", "0", c as string]);
        for (const v of ["host-a-socket", "host-b-socket"]) podman(["volume", "rm", "-f", `${project}_${v}`]);
        podman(["network", "rm", "-f", `${project}_default`]);
      }
    },
    CONTAINER_TEST_MS,
  );

  test(
    "a store transfer service on a non-loopback address without PLASMA_CLUSTER_TOKEN refuses to start and says what to set",
    async () => {
      const noToken = await podmanAsync([
        ...["run", "--rm", "--network", "none", "--no-healthcheck"],
        ...["-e", "PLASMA_ADMIN_HTTP=off", "-e", "PLASMA_ADMIN_GRPC=off"],
        ...["-e", "PLASMA_CLUSTER_ETCD=http://etcd:2379", "-e", "PLASMA_CLUSTER_LISTEN=0.0.0.0:50052"],
        ...[IMAGE, "-m", "8MiB", "--node-name", "host-c"],
      ]);
      expect(noToken.code).not.toBe(0);
      expect(noToken.stderr).toContain("PLASMA_CLUSTER_TOKEN");
      expect(noToken.stderr).toContain("--cluster-listen 0.0.0.0:50052 is not a loopback address");
    },
    CONTAINER_TEST_MS,
  );

  test(
    "a store that cannot reach etcd at start-up exits 1 (what compose.cluster.yaml's restart: on-failure relies on)",
    async () => {
      const noEtcd = await podmanAsync([
        ...["run", "--rm", "--network", "none", "--no-healthcheck"],
        ...["-e", "PLASMA_ADMIN_HTTP=off", "-e", "PLASMA_ADMIN_GRPC=off"],
        ...["-e", "PLASMA_CLUSTER_ETCD=http://etcd:2379"],
        ...[IMAGE, "-m", "8MiB", "--node-name", "host-c"],
      ]);
      expect(noEtcd.code).toBe(1);
      expect(noEtcd.stderr).toContain("plasma_store: etcd is unreachable (http://etcd:2379");
    },
    CONTAINER_TEST_MS,
  );
});
