/** The cluster rows (issue 14): what bench/cluster.ts measures, with the baselines of the same run. */
import { GiB, MiB, sizeLabel } from "./lib/measure.ts";
import type { RowSpec } from "./rows.ts";

const RAW_TCP = "raw loopback TCP between two Bun processes";
const SOCKET_GET = "local get, over the socket (--directory-entries 0)";
const DIRECTORY_GET = "local get, from the shared directory";

export function clusterRows(): RowSpec[] {
  const group = "Cluster (issue 14; etcd and the stores on this one machine)";
  const rows: RowSpec[] = [];
  for (const bytes of [64 * MiB, GiB]) {
    const s = sizeLabel(bytes);
    const fullOnly = bytes === GiB ? true : undefined;
    const raw = { name: RAW_TCP, key: `cluster.raw.${s}` };
    rows.push({
      group,
      name: `pull ${s} from another store into a --prefault store (get: lookup + pull, median)`,
      kind: "bandwidth",
      bytes,
      ours: `cluster.pull.prefault.${s}`,
      baselines: [raw],
      target: { text: "≥ 0.7× raw TCP", baseline: RAW_TCP, minRatio: 0.7 },
      fullOnly,
    });
    rows.push({
      group,
      name: `pull ${s} into a default-pages store (first touch of its arena, one pull)`,
      kind: "bandwidth",
      bytes,
      ours: `cluster.pull.cold.${s}`,
      baselines: [raw],
      fullOnly,
    });
  }
  rows.push({
    group,
    name: "remote get+release 1KiB (directory lookup in etcd + pull), vs local gets",
    kind: "latency",
    ours: "cluster.remoteGet.1KiB",
    baselines: [
      { name: SOCKET_GET, key: "cluster.localGet.socket.1KiB" },
      { name: DIRECTORY_GET, key: "cluster.localGet.directory.1KiB" },
    ],
    target: { text: "≤ 5× a local get over the socket", baseline: SOCKET_GET, minRatio: 1 / 5 },
  });
  rows.push({
    group,
    name: "createAndSeal 1KiB with the cluster on (registration off the reply path)",
    kind: "latency",
    ours: "cluster.seal.on.1KiB",
    baselines: [{ name: "cluster off", key: "cluster.seal.off.1KiB" }],
    target: { text: "≤ 1.1× cluster off", baseline: "cluster off", minRatio: 1 / 1.1 },
  });
  return rows;
}
