/// <reference lib="dom" />
/**
 * The dashboard's cluster parts (bundled with app.ts): the "Cluster" panel listing the live nodes from
 * GET /v1/cluster (refreshed every few seconds; hidden when the store runs without a cluster) and, in an
 * object's detail, "also on: node-b, node-c" from GET /v1/cluster/locate.
 */
import type { ClusterNodesView, LocateObjectsView } from "../cluster-service.ts";

type ClusterJson = { enabled: false } | ({ enabled: true } & ClusterNodesView);
type Api = <T>(path: string) => Promise<T>;

/** How often the panel reads /v1/cluster again (plasma_cluster_nodes reads the directory as often). */
export const CLUSTER_REFRESH_MS = 5000;

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];
function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

function byId(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`no #${id} on the page`);
  return el;
}

function cell(text: string, className = ""): HTMLTableCellElement {
  const td = document.createElement("td");
  td.textContent = text;
  if (className !== "") td.className = className;
  return td;
}

function nodeRow(node: ClusterNodesView["nodes"][number]): HTMLTableRowElement {
  const tr = document.createElement("tr");
  const name = cell(node.name);
  if (node.self) {
    const badge = document.createElement("span");
    badge.className = "badge self";
    badge.textContent = "this store";
    name.append(" ", badge);
    tr.classList.add("self");
  }
  const share =
    node.capacityBytes > 0 ? ` (${((100 * node.usedBytes) / node.capacityBytes).toFixed(1)}%)` : "";
  tr.append(
    name,
    cell(node.transferAddress),
    cell(`${formatBytes(node.usedBytes)}${share}`, "num"),
    cell(formatBytes(node.capacityBytes), "num"),
    cell(node.startTimeMs > 0 ? new Date(node.startTimeMs).toLocaleString() : "–"),
  );
  tr.dataset.node = node.name;
  tr.dataset.self = node.self ? "1" : "0";
  return tr;
}

export class ClusterPanel {
  readonly #api: Api;
  #enabled = false;
  #nodeName = "";
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(api: Api) {
    this.#api = api;
  }

  /** Reads /v1/cluster now and every CLUSTER_REFRESH_MS (a later start replaces the earlier timer). */
  async start(): Promise<void> {
    this.stop();
    await this.refresh();
    this.#timer = setInterval(() => void this.refresh(), CLUSTER_REFRESH_MS);
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  async refresh(): Promise<void> {
    const section = byId("cluster");
    const error = byId("cluster-error");
    let view: ClusterJson;
    try {
      view = await this.#api<ClusterJson>("/v1/cluster");
    } catch (e) {
      // The store has a cluster (or this would be { enabled: false }) but its directory did not answer.
      error.textContent = `The cluster directory did not answer: ${(e as Error).message}`;
      error.hidden = false;
      return;
    }
    this.#enabled = view.enabled;
    section.hidden = !view.enabled;
    if (!view.enabled) return;
    error.hidden = true;
    this.#nodeName = view.nodeName;
    byId("cluster-name").textContent =
      `${view.clusterName} · this store is ${view.nodeName} (${view.transferAddress}) · etcd ${view.etcdEndpoints.join(", ")}`;
    const count = byId("cluster-count");
    count.textContent = `${view.nodes.length} node${view.nodes.length === 1 ? "" : "s"}`;
    count.dataset.count = String(view.nodes.length);
    const body = byId("cluster-table").querySelector("tbody") as HTMLTableSectionElement;
    body.replaceChildren(...view.nodes.map(nodeRow));
  }

  /** Fills the detail's "also on" line for `id` (the other nodes holding it); hidden without a cluster. */
  async showLocations(id: string): Promise<void> {
    const line = byId("detail-cluster");
    const also = byId("detail-also-on");
    line.hidden = !this.#enabled;
    if (!this.#enabled) return;
    also.textContent = "…";
    delete also.dataset.loaded;
    let text: string;
    try {
      const view = await this.#api<LocateObjectsView>(`/v1/cluster/locate?ids=${id}`);
      const others = (view.locations[0]?.nodes ?? []).filter((node) => node !== this.#nodeName);
      text = others.length > 0 ? others.join(", ") : "no other node";
    } catch (e) {
      text = `unknown (${(e as Error).message})`;
    }
    // Another object may have been selected meanwhile.
    if (byId("detail").dataset.id !== id) return;
    also.textContent = text;
    also.dataset.loaded = "1";
  }
}
