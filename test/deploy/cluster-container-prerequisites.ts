// What compose.cluster.yaml needs from the machine beyond container.test.ts's podman: podman-compose, the
// etcd binary for the etcd image, and DNS on compose networks (the stores dial each other and etcd by
// service name). With podman's CNI backend (Debian 12's podman 4.3) that DNS is the dnsname plugin
// (Debian's golang-github-containernetworking-plugin-dnsname, which .ci/install-system-deps installs);
// with netavark it is aardvark-dns.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { ETCD_BINARY } from "../helpers/etcd.ts";
import { podman } from "./podman.ts";

const CNI_PLUGIN_DIRS = ["/usr/lib/cni", "/usr/libexec/cni", "/opt/cni/bin"];
const AARDVARK = ["/usr/libexec/podman/aardvark-dns", "/usr/lib/podman/aardvark-dns"];

/** Why compose.cluster.yaml cannot run here (podman itself assumed working), or null when it can. */
export function clusterComposeProblem(): string | null {
  if (spawnSync("sh", ["-c", "command -v podman-compose"]).status !== 0)
    return "podman-compose is not installed (.ci/install-system-deps installs it)";
  if (!existsSync(ETCD_BINARY)) return `no etcd at ${ETCD_BINARY} (Debian's etcd-server package)`;
  const backend = podman(["info", "--format", "{{.Host.NetworkBackend}}"]).stdout.trim();
  if (backend === "netavark") {
    return AARDVARK.some((p) => existsSync(p)) ? null : "netavark without aardvark-dns: no DNS on networks";
  }
  if (!CNI_PLUGIN_DIRS.some((dir) => existsSync(`${dir}/dnsname`)))
    return "podman's CNI backend without the dnsname plugin (golang-github-containernetworking-plugin-dnsname): containers cannot reach each other by service name";
  return null;
}
