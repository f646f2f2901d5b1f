// Podman for the container tests, set up as docs/operations.md ("Running in containers") describes: runc (crun fails on
// this host's hybrid cgroups), cgroupfs, a containers.conf without default ulimits, `--isolation chroot`
// builds. No registry is reachable, so the base image is made here: Debian's libc (the files of the host's
// libc6 package) plus the Bun binary from npm (the one running this test), with a `bun` user (uid 1000)
// like the official images, imported with `podman import`.
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type CommandResult, runCommand } from "../helpers/run.ts";

export const REPO = join(import.meta.dir, "../..");
const CONTAINERS_CONF = join(import.meta.dir, "containers.conf");
const GLOBAL_FLAGS = ["--runtime", "runc", "--cgroup-manager=cgroupfs"];

export type Run = CommandResult;

/** Runs podman synchronously with the settings above. */
export function podman(args: string[], options: { timeoutMs?: number; input?: Buffer } = {}): Run {
  const r = spawnSync("podman", [...GLOBAL_FLAGS, ...args], {
    encoding: "utf8",
    env: { ...process.env, CONTAINERS_CONF },
    timeout: options.timeoutMs ?? 120_000,
    input: options.input,
    maxBuffer: 64 * 1024 * 1024,
  });
  return {
    code: r.status ?? -1,
    stdout: r.stdout ?? "",
    stderr: `${r.stderr ?? ""}${r.error ? `\n${r.error.message}` : ""}`,
  };
}

/** Runs podman without blocking the event loop (for long builds and for runs the test waits on). */
export function podmanAsync(args: string[], timeoutMs = 240_000): Promise<Run> {
  return runCommand(["podman", ...GLOBAL_FLAGS, ...args], { env: { CONTAINERS_CONF }, timeoutMs });
}

/** Why podman cannot run containers here, or null when it can (checked by running `podman info`). */
export function podmanProblem(): string | null {
  if (process.platform !== "linux") return "not Linux";
  if (process.getuid?.() !== 0) return "not root (the test runs rootful podman)";
  const which = spawnSync("sh", ["-c", "command -v podman && command -v runc"], { encoding: "utf8" });
  if (which.status !== 0) return "podman or runc is not installed (.ci/install-system-deps installs them)";
  const info = podman(["info", "--format", "{{.Host.OCIRuntime.Name}}"], { timeoutMs: 60_000 });
  if (info.code !== 0) return `podman info failed: ${info.stderr.trim()}`;
  return null;
}

function bunVersion(): string {
  return Bun.version;
}

/** The tag of the local base image: one per Bun version. */
export function baseImageTag(): string {
  return `localhost/plasma-test-base:bun-${bunVersion()}`;
}

function imageExists(tag: string): boolean {
  return podman(["image", "exists", tag]).code === 0;
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Builds the base image unless it exists already. Throws with podman's output on failure. */
export function ensureBaseImage(): string {
  const tag = baseImageTag();
  if (imageExists(tag)) return tag;
  const root = mkdtempSync(join(tmpdir(), "plasma-rootfs-"));
  try {
    const files = spawnSync("dpkg", ["-L", "libc6"], { encoding: "utf8" });
    if (files.status !== 0) throw new Error(`dpkg -L libc6 failed: ${files.stderr}`);
    // Debian's libc: the host's libc6 package files (the loader, libc, libm, libdl, libpthread, ...).
    // Files and links only (not directories), outside /usr/share; the layout is Debian 12's merged /usr.
    const paths = files.stdout
      .split("\n")
      .filter((p) => p.startsWith("/") && !p.startsWith("/usr/share"))
      .filter((p) => existsSync(p) && !lstatSync(p).isDirectory());
    for (const dir of ["usr/lib", "usr/lib64", "usr/bin", "usr/sbin"])
      mkdirSync(join(root, dir), { recursive: true });
    for (const link of ["lib", "lib64", "bin", "sbin"]) symlinkSync(`usr/${link}`, join(root, link));
    for (const path of paths) {
      const target = join(root, path);
      mkdirSync(dirname(target), { recursive: true });
      if (existsSync(target) || isLink(target)) continue;
      if (lstatSync(path).isSymbolicLink()) symlinkSync(readlinkSync(path), target);
      else {
        copyFileSync(path, target);
        chmodSync(target, lstatSync(path).mode & 0o7777);
      }
    }
    // The Bun binary from npm: the one running these tests.
    mkdirSync(join(root, "usr/local/bin"), { recursive: true });
    copyFileSync(process.execPath, join(root, "usr/local/bin/bun"));
    chmodSync(join(root, "usr/local/bin/bun"), 0o755);
    for (const dir of ["etc", "tmp", "root", "home/bun", "run", "dev/shm"])
      mkdirSync(join(root, dir), { recursive: true });
    chmodSync(join(root, "tmp"), 0o1777);
    spawnSync("chown", ["1000:1000", join(root, "home/bun")]);
    writeFileSync(
      join(root, "etc/passwd"),
      "root:x:0:0:root:/root:/usr/local/bin/bun\nbun:x:1000:1000::/home/bun:/usr/local/bin/bun\n" +
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    );
    writeFileSync(join(root, "etc/group"), "root:x:0:\nbun:x:1000:\nnogroup:x:65534:\n");
    writeFileSync(join(root, "etc/nsswitch.conf"), "passwd: files\ngroup: files\nhosts: files dns\n");
    // This machine reaches the npm registry through a TLS proxy its CA bundle trusts: the image trusts it
    // too, so `bun install` in the Dockerfile works here.
    const caBundle = process.env.NODE_EXTRA_CA_CERTS ?? "/etc/ssl/certs/ca-certificates.crt";
    const changes: string[] = ["--change", "ENV PATH=/usr/local/bin:/usr/bin:/bin"];
    if (existsSync(caBundle)) {
      mkdirSync(join(root, "etc/ssl/certs"), { recursive: true });
      copyFileSync(caBundle, join(root, "etc/ssl/certs/ca-certificates.crt"));
      changes.push("--change", "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt");
    }
    const tar = spawnSync("tar", ["-C", root, "-cf", "-", "."], { maxBuffer: 1024 * 1024 * 1024 });
    if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr}`);
    const imported = podman(["import", ...changes, "-", tag], { input: tar.stdout, timeoutMs: 180_000 });
    if (imported.code !== 0) throw new Error(`podman import failed: ${imported.stderr}`);
    return tag;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Builds the repository's Dockerfile on the local base image (layers are cached between runs). */
export async function buildImage(tag: string, baseImage: string): Promise<Run> {
  return podmanAsync(
    [
      "build",
      "--isolation",
      "chroot",
      "--format",
      "docker",
      "--layers",
      "--build-arg",
      `BASE_IMAGE=${baseImage}`,
      "-t",
      tag,
      "-f",
      join(REPO, "Dockerfile"),
      REPO,
    ],
    300_000,
  );
}
