import { formatBytes } from "../cli-support/bytes.ts";
import { UsageError } from "../cli-support/usage-error.ts";
import { formatTime, table, toJson } from "./cli-format.ts";
import type { AdminClient } from "./client.ts";
import type { ClusterNodesView, LocateObjectsView } from "./cluster-service.ts";

/** plasma-admin's cluster commands: `nodes` and `locate ID...`. */

export function nodesTable(view: ClusterNodesView): string {
  const rows = view.nodes.map((n) => [
    `${n.name}${n.self ? " *" : ""}`,
    n.transferAddress,
    formatBytes(n.usedBytes),
    formatBytes(n.capacityBytes),
    n.capacityBytes > 0 ? `${((100 * n.usedBytes) / n.capacityBytes).toFixed(1)}%` : "-",
    formatTime(n.startTimeMs),
  ]);
  const head = `cluster ${view.clusterName}, node ${view.nodeName} (${view.transferAddress}), etcd ${view.etcdEndpoints.join(",")}`;
  return `${head}\n${table(["NODE", "TRANSFER ADDRESS", "USED", "CAPACITY", "USE", "STARTED"], rows)}`;
}

export function locationsTable(view: LocateObjectsView): string {
  const rows = view.locations.map((l) => [l.id, l.nodes.length > 0 ? l.nodes.join(",") : "(nowhere)"]);
  return table(["ID", "NODES"], rows);
}

/** Runs a cluster command; null when `command` is not one. */
export async function clusterCommand(
  client: AdminClient,
  command: string,
  args: string[],
  json: boolean,
  out: (text: string) => void,
): Promise<number | null> {
  if (command === "nodes") {
    const view = await client.nodes();
    out(json ? toJson(view) : nodesTable(view));
    return 0;
  }
  if (command === "locate") {
    if (args.length === 0) throw new UsageError("Missing object ids (locate ID...).");
    const view = await client.locate(args);
    out(json ? toJson(view) : locationsTable(view));
    return view.locations.some((l) => l.nodes.length === 0) ? 1 : 0;
  }
  return null;
}
