/// <reference lib="dom" />
/**
 * The dashboard in the browser. Bundled by page.ts (Bun.build, target browser) into the page served at
 * GET /. Reads /v1/* JSON and the /v1/feed event stream of the same server, with the viewer's admin
 * token (kept in sessionStorage) as `authorization: Bearer TOKEN`: a header, never a cookie, so another
 * site cannot make the browser send it. The token may come in the address's fragment
 * (`/#token=TOKEN`, as `plasma-admin dashboard` prints it), which never reaches the server or its logs;
 * the page moves it to sessionStorage and drops it from the address bar.
 */
import type {
  EventView,
  EvictionPolicyView,
  EvictView,
  ListObjectsView,
  ObjectInfoView,
  StoreInfoView,
} from "../service.ts";
import type { DashboardClientView, DashboardTick } from "./api.ts";
import { ClusterPanel } from "./cluster.ts";
import { renderSpill } from "./spill.ts";

/** Objects in JSON: metadata comes as base64. */
type ObjectJson = Omit<ObjectInfoView, "metadata"> & { metadata: string };
type ListJson = Omit<ListObjectsView, "objects"> & { objects: ObjectJson[] };

const TOKEN_KEY = "plasma-admin-token";
/** Chart window: one point a second. */
const HISTORY_POINTS = 300;
const MAX_EVENTS = 200;

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`no #${id} on the page`);
  return el;
}
function input(id: string): HTMLInputElement {
  return $(id) as HTMLInputElement;
}
function select(id: string): HTMLSelectElement {
  return $(id) as HTMLSelectElement;
}

// ---------- formatting ----------

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];
function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "–";
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${UNITS[unit]}`;
}

/** "64MiB", "1.5 GiB", "4096", "10k" → bytes; null when it does not parse. */
function parseBytes(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$/i.exec(text);
  if (m === null) return null;
  const power = ["", "k", "m", "g", "t"].indexOf((m[2] ?? "").toLowerCase());
  // Binary units throughout: k = KiB, m = MiB, and so on.
  const bytes = Math.round(Number(m[1]) * 1024 ** power);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

function formatTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function setBytes(el: HTMLElement, bytes: number): void {
  el.textContent = formatBytes(bytes);
  el.dataset.bytes = String(bytes);
  el.title = `${bytes.toLocaleString("en-US")} bytes`;
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { text?: string; className?: string; title?: string } = {},
  ...children: Node[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.text !== undefined) el.textContent = props.text;
  if (props.className !== undefined) el.className = props.className;
  if (props.title !== undefined) el.title = props.title;
  for (const child of children) el.append(child);
  return el;
}

function base64Bytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Hex dump: offset, 16 bytes in hex, ASCII. */
function hexDump(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let offset = 0; offset < bytes.length; offset += 16) {
    const row = bytes.subarray(offset, offset + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${offset.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join("\n");
}

/** The metadata as text when it is valid UTF-8 without control characters (tabs and newlines allowed). */
function printableUtf8(bytes: Uint8Array): string | null {
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters is the point
    return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? null : text;
  } catch {
    return null;
  }
}

// ---------- state ----------

/** A token in the fragment (`#token=...`) goes to sessionStorage and out of the address bar. */
function initialToken(): string {
  const fromFragment = new URLSearchParams(location.hash.slice(1)).get("token")?.trim() ?? "";
  if (fromFragment !== "") {
    sessionStorage.setItem(TOKEN_KEY, fromFragment);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? "";
}

const state = {
  token: initialToken(),
  info: null as StoreInfoView | null,
  infoAtMs: 0,
  canAct: false,
  /** Server clock minus browser clock, from the ticks. */
  clockOffsetMs: 0,
  history: [] as { timeMs: number; usedBytes: number; opsPerSecond: number }[],
  lastOps: null as { timeMs: number; ops: number } | null,
  capacityBytes: 0,
  events: [] as EventView[],
  eventsSeen: 0,
  query: { state: "all", prefix: "", orderBy: "create_time", desc: true, pageSize: 25 },
  pageTokens: [""],
  page: 0,
  selectedId: null as string | null,
  feedAbort: null as AbortController | null,
  refreshTimer: 0 as number,
  generation: 0,
};

const serverNow = () => Date.now() + state.clockOffsetMs;

// ---------- HTTP ----------

function headers(extra: Record<string, string> = {}): Record<string, string> {
  return state.token === "" ? extra : { ...extra, authorization: `Bearer ${state.token}` };
}

async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const response = await fetch(path, {
    method: init.method ?? "GET",
    headers: headers(init.body === undefined ? {} : { "content-type": "application/json" }),
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: reported below.
  }
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(response.status, error?.code ?? `HTTP_${response.status}`, error?.message ?? text);
  }
  return parsed as T;
}

const cluster = new ClusterPanel((path) => api(path));

function showNotice(
  id: "auth-message" | "action-result",
  text: string,
  kind: "error" | "ok" | "" = "",
): void {
  const el = $(id);
  el.textContent = text;
  el.className = `notice ${kind}`;
  el.hidden = text === "";
}

function setConnection(text: string, stateName: "connecting" | "live" | "error" | "locked"): void {
  const badge = $("connection");
  badge.textContent = text;
  badge.dataset.state = stateName;
}

// ---------- header ----------

function renderInfo(): void {
  const info = state.info;
  const dl = $("info");
  dl.replaceChildren();
  if (info === null) return;
  const uptimeMs = info.uptimeSeconds * 1000 + (Date.now() - state.infoAtMs);
  const fields: [string, string, string][] = [
    ["host", info.hostname, "info-host"],
    ["pid", String(info.pid), "info-pid"],
    ["version", info.version, "info-version"],
    ["uptime", formatDuration(uptimeMs), "info-uptime"],
    ["capacity", formatBytes(info.capacityBytes), "info-capacity"],
    ["backing", info.backingPath ? `${info.backing} (${info.backingPath})` : info.backing, "info-backing"],
    ["huge pages", info.hugePages ? `yes (${formatBytes(info.pageSizeBytes)})` : "no", "info-huge-pages"],
    ["eviction", info.evictionPolicy, "info-policy"],
  ];
  for (const [name, value, id] of fields) {
    const dd = element("dd", { text: value });
    dd.id = id;
    dl.append(element("div", {}, element("dt", { text: name }), dd));
  }
}

// ---------- memory and chart ----------

function opsOf(tick: DashboardTick): number {
  const c = tick.stats.counters;
  return c.creates + c.seals + c.aborts + c.getHits + c.getMisses + c.releases + c.deletes + c.evictions;
}

function onTick(tick: DashboardTick): void {
  state.clockOffsetMs = tick.timeMs - Date.now();
  const s = tick.stats;
  state.capacityBytes = s.capacityBytes;
  const ops = opsOf(tick);
  let rate = 0;
  if (state.lastOps !== null && tick.timeMs > state.lastOps.timeMs) {
    rate = ((ops - state.lastOps.ops) * 1000) / (tick.timeMs - state.lastOps.timeMs);
  }
  state.lastOps = { timeMs: tick.timeMs, ops };
  state.history.push({ timeMs: tick.timeMs, usedBytes: s.usedBytes, opsPerSecond: rate });
  if (state.history.length > HISTORY_POINTS) state.history.splice(0, state.history.length - HISTORY_POINTS);

  const capacity = Math.max(1, s.capacityBytes);
  $("bar-used").style.width = `${(100 * s.usedBytes) / capacity}%`;
  const largest = $("bar-largest");
  largest.style.left = `${(100 * s.usedBytes) / capacity}%`;
  largest.style.width = `${(100 * s.largestFreeBlockBytes) / capacity}%`;
  setBytes($("used-bytes"), s.usedBytes);
  setBytes($("free-bytes"), s.freeBytes);
  setBytes($("largest-free"), s.largestFreeBlockBytes);
  setBytes($("capacity-bytes"), s.capacityBytes);
  $("objects-sealed").textContent = String(s.objectsSealed);
  $("objects-created").textContent = String(s.objectsCreated);
  setBytes($("bytes-sealed"), s.bytesSealed);
  $("clients-count").textContent = String(s.connectedClients);
  setBytes($("evictable-bytes"), s.evictableBytes);
  $("ops-rate").textContent = rate.toFixed(rate >= 10 ? 0 : 1);
  if (state.info !== null && state.info.evictionPolicy !== tick.evictionPolicy) {
    state.info.evictionPolicy = tick.evictionPolicy;
    syncPolicySelect();
  }
  renderInfo();
  renderSpill(s.spill, setBytes);
  renderClients(tick.clients);
  drawChart();
}

function drawChart(): void {
  const canvas = $("chart") as HTMLCanvasElement;
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 900;
  const height = canvas.clientHeight || 180;
  if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
  if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
  const g = canvas.getContext("2d");
  if (g === null) return;
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  const points = state.history;
  const pad = { left: 64, right: 56, top: 10, bottom: 18 };
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  const end = points.length > 0 ? (points[points.length - 1]?.timeMs ?? 0) : serverNow();
  const start = end - HISTORY_POINTS * 1000;
  const x = (t: number) => pad.left + ((t - start) / (end - start)) * w;
  const maxUsed = Math.max(1, state.capacityBytes);
  const maxOps = Math.max(1, ...points.map((p) => p.opsPerSecond));
  g.font = "11px system-ui, sans-serif";
  g.strokeStyle = "#dde1e7";
  g.fillStyle = "#6b7482";
  g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = pad.top + (h * i) / 4;
    g.beginPath();
    g.moveTo(pad.left, y);
    g.lineTo(pad.left + w, y);
    g.stroke();
    g.textAlign = "right";
    g.fillText(formatBytes(Math.round((maxUsed * (4 - i)) / 4)), pad.left - 6, y + 4);
    g.textAlign = "left";
    g.fillText(((maxOps * (4 - i)) / 4).toFixed(maxOps >= 40 ? 0 : 1), pad.left + w + 6, y + 4);
  }
  g.textAlign = "left";
  g.fillText("-5 min", pad.left, height - 4);
  g.textAlign = "right";
  g.fillText("now", pad.left + w, height - 4);
  const line = (value: (p: (typeof points)[number]) => number, max: number, color: string, fill: boolean) => {
    if (points.length === 0) return;
    g.beginPath();
    points.forEach((p, i) => {
      const px = x(p.timeMs);
      const py = pad.top + h - (value(p) / max) * h;
      if (i === 0) g.moveTo(px, py);
      else g.lineTo(px, py);
    });
    g.strokeStyle = color;
    g.lineWidth = 2;
    g.stroke();
    if (fill) {
      const last = points[points.length - 1];
      const first = points[0];
      if (last !== undefined && first !== undefined) {
        g.lineTo(x(last.timeMs), pad.top + h);
        g.lineTo(x(first.timeMs), pad.top + h);
        g.closePath();
        g.globalAlpha = 0.15;
        g.fillStyle = color;
        g.fill();
        g.globalAlpha = 1;
      }
    }
  };
  line((p) => p.usedBytes, maxUsed, "#3b6fd8", true);
  line((p) => p.opsPerSecond, maxOps, "#e08a2c", false);
  $("chart-window").textContent =
    `last ${Math.round((points.length * 1000) / 60_000) || "<1"} min, 1 point/s`;
}

// ---------- clients ----------

function renderClients(clients: DashboardClientView[]): void {
  const body = $("clients-table").querySelector("tbody") as HTMLTableSectionElement;
  const now = serverNow();
  const rows = [...clients]
    .sort((a, b) => a.connectTimeMs - b.connectTimeMs || a.clientId - b.clientId)
    .map((c) => {
      const tr = element(
        "tr",
        {},
        element("td", { text: String(c.pid), className: "num" }),
        element("td", { text: String(c.uid), className: "num" }),
        element("td", {
          text: `${formatTime(c.connectTimeMs)} (${formatDuration(now - c.connectTimeMs)} ago)`,
        }),
        element("td", { text: String(c.referencesHeld), className: "num" }),
        element("td", { text: formatBytes(c.bytesHeld), className: "num", title: `${c.bytesHeld} bytes` }),
        element("td", {
          text: formatBytes(c.bytesCreated),
          className: "num",
          title: `${c.bytesCreated} bytes`,
        }),
      );
      tr.dataset.pid = String(c.pid);
      tr.dataset.references = String(c.referencesHeld);
      tr.dataset.bytesHeld = String(c.bytesHeld);
      tr.dataset.bytesCreated = String(c.bytesCreated);
      return tr;
    });
  body.replaceChildren(...rows);
}

// ---------- events ----------

const KIND_LABEL: Record<EventView["kind"], [string, string]> = {
  EVENT_KIND_OBJECT_CREATED: ["created", "created"],
  EVENT_KIND_OBJECT_SEALED: ["sealed", "sealed"],
  EVENT_KIND_OBJECT_ABORTED: ["aborted", "aborted"],
  EVENT_KIND_OBJECT_DELETED: ["deleted", "deleted"],
  EVENT_KIND_OBJECT_EVICTED: ["evicted", "evicted"],
  EVENT_KIND_CLIENT_CONNECTED: ["connected", "connected"],
  EVENT_KIND_CLIENT_DISCONNECTED: ["disconnected", "disconnected"],
  EVENT_KIND_POLICY_CHANGED: ["policy", "policy"],
};

function describeEvent(event: EventView): string {
  if (event.object !== null) {
    const o = event.object;
    return `${o.id}  ${formatBytes(o.dataSizeBytes)} data, ${formatBytes(o.metadataSizeBytes)} metadata`;
  }
  if (event.client !== null)
    return `client ${event.client.clientId}, pid ${event.client.pid}, uid ${event.client.uid}`;
  return `${event.policyFrom} → ${event.policyTo}`;
}

function onStoreEvent(event: EventView): void {
  state.eventsSeen++;
  state.events.unshift(event);
  if (state.events.length > MAX_EVENTS) state.events.length = MAX_EVENTS;
  const [label, className] = KIND_LABEL[event.kind];
  const li = element(
    "li",
    {},
    element("span", { text: formatTime(event.timeMs), className: "time" }),
    element("span", { text: label, className: `kind ${className}` }),
    element("span", { text: describeEvent(event), className: "what" }),
  );
  li.dataset.kind = label;
  li.dataset.sequence = String(event.sequence);
  if (event.object !== null) li.dataset.id = event.object.id;
  const list = $("events-list");
  list.prepend(li);
  while (list.children.length > MAX_EVENTS) list.lastElementChild?.remove();
  $("events-count").textContent = `(${state.eventsSeen} since this page opened)`;
  if (event.kind === "EVENT_KIND_POLICY_CHANGED" && state.info !== null) {
    state.info.evictionPolicy = event.policyTo;
    syncPolicySelect();
    renderInfo();
  }
  if (event.object !== null) {
    scheduleObjectsRefresh();
    if (event.object.id === state.selectedId) void showDetail(event.object.id);
  }
}

// ---------- the feed ----------

async function runFeed(generation: number): Promise<void> {
  while (generation === state.generation) {
    const abort = new AbortController();
    state.feedAbort = abort;
    try {
      const response = await fetch("/v1/feed", { headers: headers(), signal: abort.signal });
      if (!response.ok || response.body === null) {
        const body = await response.text();
        throw new ApiError(response.status, `HTTP_${response.status}`, body);
      }
      setConnection("live", "live");
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf("\n\n");
          let kind = "message";
          let data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event: ")) kind = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (data === "") continue;
          if (kind === "tick") onTick(JSON.parse(data) as DashboardTick);
          else if (kind === "store") onStoreEvent(JSON.parse(data) as EventView);
          else if (kind === "overflow")
            showNotice("auth-message", (JSON.parse(data) as { message: string }).message, "error");
        }
      }
    } catch (error) {
      if (abort.signal.aborted || generation !== state.generation) return;
      if (error instanceof ApiError && error.status === 401) {
        setConnection("locked", "locked");
        return;
      }
    }
    if (generation !== state.generation) return;
    setConnection("reconnecting…", "error");
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

// ---------- objects ----------

function objectsPath(): string {
  const q = state.query;
  const params = new URLSearchParams({
    state: q.state,
    order_by: q.orderBy,
    desc: q.desc ? "1" : "0",
    page_size: String(q.pageSize),
  });
  if (q.prefix !== "") params.set("prefix", q.prefix);
  const token = state.pageTokens[state.page] ?? "";
  if (token !== "") params.set("page_token", token);
  return `/v1/objects?${params}`;
}

function scheduleObjectsRefresh(): void {
  if (state.refreshTimer !== 0) return;
  state.refreshTimer = window.setTimeout(() => {
    state.refreshTimer = 0;
    void loadObjects();
  }, 250);
}

async function loadObjects(): Promise<void> {
  let list: ListJson;
  try {
    list = await api<ListJson>(objectsPath());
  } catch (error) {
    if (error instanceof ApiError && error.code === "INVALID_ARGUMENT") {
      showNotice("action-result", error.message, "error");
      return;
    }
    throw error;
  }
  const now = serverNow();
  const body = $("objects-table").querySelector("tbody") as HTMLTableSectionElement;
  const rows = list.objects.map((o) => {
    const stateText = stateTextOf(o.state);
    const tr = element(
      "tr",
      {},
      element("td", {}, element("code", { text: o.id })),
      element("td", {
        text: formatBytes(o.dataSizeBytes),
        className: "num",
        title: `${o.dataSizeBytes} bytes`,
      }),
      element("td", {
        text: formatBytes(o.metadataSizeBytes),
        className: "num",
        title: `${o.metadataSizeBytes} bytes`,
      }),
      element("td", {
        text: o.deletePending ? `${stateText}, delete pending` : stateText,
        className: `state-${o.state === "OBJECT_STATE_CREATED" ? "created" : stateTextOf(o.state)}`,
      }),
      element("td", { text: String(o.refCount), className: "num" }),
      element("td", { text: formatDuration(now - o.createTimeMs), className: "num" }),
      element("td", { text: `${formatDuration(now - o.lastAccessTimeMs)} ago`, className: "num" }),
    );
    tr.dataset.id = o.id;
    tr.dataset.dataSize = String(o.dataSizeBytes);
    tr.dataset.metadataSize = String(o.metadataSizeBytes);
    tr.dataset.refCount = String(o.refCount);
    tr.dataset.state = o.state === "OBJECT_STATE_CREATED" ? "created" : stateTextOf(o.state);
    if (o.id === state.selectedId) tr.classList.add("selected");
    tr.addEventListener("click", () => void showDetail(o.id));
    return tr;
  });
  body.replaceChildren(...rows);
  const total = $("objects-total");
  total.textContent = `(${list.totalCount} matching)`;
  total.dataset.count = String(list.totalCount);
  if (list.nextPageToken !== "") state.pageTokens[state.page + 1] = list.nextPageToken;
  else state.pageTokens.length = state.page + 1;
  const pages = Math.max(1, Math.ceil(list.totalCount / state.query.pageSize));
  $("page-label").textContent = `page ${state.page + 1} of ${pages}`;
  ($("page-prev") as HTMLButtonElement).disabled = state.page === 0;
  ($("page-next") as HTMLButtonElement).disabled = list.nextPageToken === "";
  for (const th of $("objects-table").querySelectorAll<HTMLElement>("th.sortable")) {
    const on = th.dataset.order === state.query.orderBy;
    th.classList.toggle("sorted", on);
    th.classList.toggle("desc", on && state.query.desc);
  }
}

function resetPages(): void {
  state.pageTokens = [""];
  state.page = 0;
}

async function showDetail(id: string): Promise<void> {
  state.selectedId = id;
  for (const tr of $("objects-table").querySelectorAll<HTMLElement>("tbody tr")) {
    tr.classList.toggle("selected", tr.dataset.id === id);
  }
  const section = $("detail");
  let o: ObjectJson;
  try {
    o = await api<ObjectJson>(`/v1/objects/${id}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      section.dataset.gone = "1";
      $("detail-fields").replaceChildren(
        element("dt", { text: "state" }),
        element("dd", { text: "gone from the store" }),
      );
      ($("detail-download") as HTMLButtonElement).disabled = true;
      $("detail-delete").hidden = true;
      $("detail-utf8").textContent = "";
      $("detail-hex").textContent = "";
      $("detail-hex").hidden = true;
      return;
    }
    throw error;
  }
  delete section.dataset.gone;
  section.hidden = false;
  section.dataset.id = o.id;
  $("detail-id").textContent = o.id;
  const now = serverNow();
  const fields: [string, string][] = [
    ["data", `${formatBytes(o.dataSizeBytes)} (${o.dataSizeBytes} B)`],
    ["metadata", `${formatBytes(o.metadataSizeBytes)} (${o.metadataSizeBytes} B)`],
    ["allocated", formatBytes(o.allocatedBytes)],
    ["state", stateTextOf(o.state)],
    ["ref count", String(o.refCount)],
    ["accesses", String(o.accessCount)],
    ["created", `${formatTime(o.createTimeMs)} (${formatDuration(now - o.createTimeMs)} ago)`],
    ["construct", o.constructDurationMs < 0 ? "–" : `${o.constructDurationMs.toFixed(2)} ms`],
    ["last access", `${formatTime(o.lastAccessTimeMs)} (${formatDuration(now - o.lastAccessTimeMs)} ago)`],
    ["delete pending", o.deletePending ? "yes" : "no"],
  ];
  $("detail-fields").replaceChildren(
    ...fields.flatMap(([name, value]) => [element("dt", { text: name }), element("dd", { text: value })]),
  );
  const metadata = base64Bytes(o.metadata);
  const text = metadata.length === 0 ? "" : printableUtf8(metadata);
  const utf8 = $("detail-utf8");
  utf8.textContent =
    metadata.length === 0 ? "(no metadata)" : (text ?? "(not printable UTF-8: see the hex dump)");
  utf8.dataset.printable = text === null ? "0" : "1";
  $("detail-hex").textContent = hexDump(metadata);
  $("detail-hex").hidden = metadata.length === 0;
  const download = $("detail-download") as HTMLButtonElement;
  download.disabled = o.state !== "OBJECT_STATE_SEALED";
  download.title =
    o.state === "OBJECT_STATE_SPILLED"
      ? "A spilled object is on disk: a client's get restores it"
      : download.disabled
        ? "Only sealed objects can be read"
        : "";
  $("detail-delete").hidden = !state.canAct;
  await cluster.showLocations(o.id);
}

async function downloadSelected(): Promise<void> {
  const id = state.selectedId;
  if (id === null) return;
  const response = await fetch(`/v1/objects/${id}/data`, { headers: headers() });
  if (!response.ok) {
    const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
    showNotice("action-result", `Download failed: ${body?.error?.message ?? response.statusText}`, "error");
    return;
  }
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const a = element("a");
  a.href = url;
  a.download = `${id}.bin`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// ---------- actions ----------

function confirmAction(text: string): Promise<boolean> {
  const dialog = $("confirm") as HTMLDialogElement;
  $("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

async function act<T>(label: string, run: () => Promise<T>, describe: (result: T) => string): Promise<void> {
  try {
    const result = await run();
    showNotice("action-result", describe(result), "ok");
  } catch (error) {
    const message = error instanceof ApiError ? `${error.code}: ${error.message}` : String(error);
    showNotice("action-result", `${label} refused: ${message}`, "error");
  }
}

function syncPolicySelect(): void {
  const s = select("policy-select");
  if (state.info !== null && s.dataset.current !== state.info.evictionPolicy) {
    s.value = state.info.evictionPolicy;
    s.dataset.current = state.info.evictionPolicy;
  }
}

function wireActions(): void {
  $("policy-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = select("policy-select").value;
    const current = state.info?.evictionPolicy ?? "?";
    if (!(await confirmAction(`Change the eviction policy from ${current} to ${name}?`))) return;
    await act(
      "Policy change",
      () => api<EvictionPolicyView>("/v1/policy", { method: "PUT", body: { name } }),
      (r) => `Eviction policy is now ${r.name} (was ${r.previous}).`,
    );
  });
  $("evict-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input("evict-input").value;
    const bytes = parseBytes(text);
    if (bytes === null) {
      showNotice(
        "action-result",
        `"${text}" is not a size: write bytes like 4096, 64MiB or 1.5GiB.`,
        "error",
      );
      return;
    }
    if (!(await confirmAction(`Evict at least ${formatBytes(bytes)} (${bytes} bytes) of unused objects?`)))
      return;
    await act(
      "Evict",
      () => api<EvictView>("/v1/evict", { method: "POST", body: { bytes } }),
      (r) =>
        `Evicted ${r.evicted.length} objects, freed ${formatBytes(r.freedBytes)} (${r.freedBytes} bytes).`,
    );
  });
  $("detail-delete").addEventListener("click", async () => {
    const id = state.selectedId;
    if (id === null) return;
    if (!(await confirmAction(`Delete object ${id}? Clients holding it keep it until they release it.`)))
      return;
    await act(
      "Delete",
      () => api<{ deleted: string[]; pending: string[] }>(`/v1/objects/${id}`, { method: "DELETE" }),
      (r) =>
        r.deleted.length > 0
          ? `Deleted ${id}.`
          : `Delete of ${id} is pending: clients still hold it; it goes at their last release.`,
    );
  });
}

function wireObjects(): void {
  const reload = () => {
    resetPages();
    void loadObjects();
  };
  select("filter-state").addEventListener("change", () => {
    state.query.state = select("filter-state").value;
    reload();
  });
  input("filter-prefix").addEventListener("input", () => {
    state.query.prefix = input("filter-prefix").value.trim().toLowerCase();
    reload();
  });
  select("page-size").addEventListener("change", () => {
    state.query.pageSize = Number(select("page-size").value);
    reload();
  });
  $("objects-filter").addEventListener("submit", (event) => event.preventDefault());
  for (const th of $("objects-table").querySelectorAll<HTMLElement>("th.sortable")) {
    th.addEventListener("click", () => {
      const order = th.dataset.order ?? "create_time";
      if (state.query.orderBy === order) state.query.desc = !state.query.desc;
      else {
        state.query.orderBy = order;
        state.query.desc = true;
      }
      reload();
    });
  }
  $("page-prev").addEventListener("click", () => {
    if (state.page > 0) state.page--;
    void loadObjects();
  });
  $("page-next").addEventListener("click", () => {
    if (state.pageTokens[state.page + 1] !== undefined) state.page++;
    void loadObjects();
  });
  $("detail-close").addEventListener("click", () => {
    state.selectedId = null;
    $("detail").hidden = true;
    for (const tr of $("objects-table").querySelectorAll("tbody tr.selected"))
      tr.classList.remove("selected");
  });
  $("detail-download").addEventListener("click", () => void downloadSelected());
}

// ---------- start ----------

async function start(): Promise<void> {
  state.generation++;
  state.feedAbort?.abort();
  const generation = state.generation;
  setConnection("connecting…", "connecting");
  $("token-status").textContent = state.token === "" ? "" : "token set";
  try {
    state.info = await api<StoreInfoView>("/v1/info");
    state.infoAtMs = Date.now();
  } catch (error) {
    state.info = null;
    cluster.stop();
    $("actions").hidden = true;
    renderInfo();
    if (error instanceof ApiError && error.status === 401) {
      setConnection("locked", "locked");
      showNotice(
        "auth-message",
        state.token === ""
          ? "This store needs an admin token: enter it above (the store's --admin-token, or the SOCKET.admin-token file it wrote; `plasma-admin dashboard` prints an address that carries it)."
          : "The admin token is wrong: enter the store's --admin-token (or its SOCKET.admin-token file) above.",
        "error",
      );
      $("auth-message").dataset.reason = state.token === "" ? "missing" : "wrong";
      $("main").hidden = true;
      return;
    }
    setConnection("unreachable", "error");
    showNotice("auth-message", `Cannot reach the admin API: ${String(error)}`, "error");
    return;
  }
  showNotice("auth-message", "");
  delete $("auth-message").dataset.reason;
  $("main").hidden = false;
  const info = state.info;
  // Actions only for a viewer who gave the token (when one is set), and never on a read-only plane.
  state.canAct = !info.admin.readOnly && (!info.admin.tokenRequired || state.token !== "");
  $("actions").hidden = !state.canAct;
  if (info.admin.readOnly) showNotice("action-result", "This admin plane is read-only (--admin-read-only).");
  const policy = await api<EvictionPolicyView>("/v1/policy");
  select("policy-select").replaceChildren(
    ...policy.available.map((name) => element("option", { text: name })),
  );
  syncPolicySelect();
  renderInfo();
  await loadObjects();
  await cluster.start();
  void runFeed(generation);
}

function main(): void {
  input("token-input").value = state.token;
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.token = input("token-input").value.trim();
    sessionStorage.setItem(TOKEN_KEY, state.token);
    void start();
  });
  $("token-clear").addEventListener("click", () => {
    state.token = "";
    input("token-input").value = "";
    sessionStorage.removeItem(TOKEN_KEY);
    void start();
  });
  wireObjects();
  wireActions();
  window.addEventListener("resize", drawChart);
  void start();
}

main();

/** "sealed", "spilled" (on disk; a get restores it) or "being created". */
function stateTextOf(state: string): string {
  if (state === "OBJECT_STATE_SPILLED") return "spilled";
  return state === "OBJECT_STATE_SEALED" ? "sealed" : "being created";
}
