#!/usr/bin/env bun
import { parseArgs } from "node:util";
import { formatBytes, parseBytes } from "../cli-support/bytes.ts";
import { UsageError } from "../cli-support/usage-error.ts";
import { clusterCommand } from "./cli-cluster.ts";
import { formatTime, table, toJson } from "./cli-format.ts";
import { AdminCallError, AdminClient } from "./client.ts";
import { DEFAULT_ADMIN_GRPC } from "./config.ts";
import type {
  ClientView,
  EventKindName,
  EventView,
  ListObjectsQuery,
  ObjectInfoView,
  StatsView,
} from "./service.ts";
import { EVENT_KIND_NAMES } from "./service.ts";
import { resolveAdminClientToken } from "./token-file.ts";

export const ADMIN_USAGE = `Usage: plasma-admin [--addr HOST:PORT] [--socket PATH | --token-file F | --token T] [--json] COMMAND

Commands:
  info                      store version, pid, socket, capacity, backing, uptime, policy, endpoints
  stats                     memory, objects by state, clients, counters since start
  ls [--state created|sealed|spilled] [--limit N] [--order create_time|size|last_access] [--desc]
     [--prefix HEX] [--min-size BYTES] [--max-size BYTES]
                            list objects
  show ID                   one object, with its metadata
  cat ID > FILE             write a sealed object's data to stdout [--offset BYTES] [--length BYTES]
  rm ID...                  delete objects (in-use ones go when released)
  evict BYTES               evict at least BYTES (e.g. 64MiB) in policy order
  policy [NAME]             show, or switch to, the eviction policy: lru, fifo, lfu, none
  clients                   connected clients
  watch [--kinds K,...] [--count N]
                            stream events (object_created, object_sealed, object_aborted,
                            object_deleted, object_evicted, client_connected, client_disconnected,
                            policy_changed) until Ctrl-C or N events
  top [--interval-ms MS] [--count N]
                            refreshing summary until Ctrl-C or N refreshes
  dashboard                 the dashboard's address, with the token in it: open it in a browser
  nodes                     the cluster's live nodes (--cluster-etcd): name, transfer address,
                            used / capacity, start time; * marks this store's node
  locate ID...              the nodes whose stores hold each object (exit 1 if one is held nowhere)

Options:
  --addr HOST:PORT          admin gRPC address (default ${DEFAULT_ADMIN_GRPC}; env PLASMA_ADMIN_ADDR)
  --socket PATH             the store's socket: the token is read from PATH.admin-token, which the
                            store writes at start (default /tmp/plasma; env PLASMA_SOCKET)
  --token-file F            read the token from F (env PLASMA_ADMIN_TOKEN_FILE)
  --token T                 bearer token (env PLASMA_ADMIN_TOKEN); wins over the files
  --json                    JSON instead of tables (watch and top: one JSON object per line)
  --help                    this help`;

// ---------------------------------------------------------------------------------------- formatting

function formatDuration(seconds: number): string {
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${d > 0 ? `${d}d ` : ""}${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

function keyValues(pairs: [string, string][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${v}`).join("\n");
}

const stateShort = (state: string) => state.replace("OBJECT_STATE_", "").toLowerCase();
const kindShort = (kind: string) => kind.replace("EVENT_KIND_", "").toLowerCase();

function printableMetadata(bytes: Uint8Array): string {
  if (bytes.length === 0) return "(none)";
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: detecting control characters is the point.
  if (!/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(text)) return JSON.stringify(text);
  return `hex ${Buffer.from(bytes).toString("hex")}`;
}

export function statsSummary(s: StatsView): [string, string][] {
  const c = s.counters;
  return [
    ["capacity", formatBytes(s.capacityBytes)],
    [
      "used",
      `${formatBytes(s.usedBytes)} (${s.capacityBytes > 0 ? ((100 * s.usedBytes) / s.capacityBytes).toFixed(1) : "0"}%)`,
    ],
    ["free", `${formatBytes(s.freeBytes)} (largest block ${formatBytes(s.largestFreeBlockBytes)})`],
    ["fragmentation", `${(100 * s.fragmentation).toFixed(1)}%`],
    ["objects sealed", `${s.objectsSealed} (${formatBytes(s.bytesSealed)})`],
    ["objects created", `${s.objectsCreated} (${formatBytes(s.bytesCreated)})`],
    ["evictable", `${s.evictableObjects} (${formatBytes(s.evictableBytes)})`],
    ["eviction policy", s.evictionPolicy],
    ["clients", String(s.connectedClients)],
    ["waiting", `${s.waitingGets} gets, ${s.waitingCreates} creates`],
    ["creates", `${c.creates} (seals ${c.seals}, aborts ${c.aborts})`],
    ["gets", `${c.getHits} hits, ${c.getMisses} misses, ${c.getTimeouts} timeouts`],
    ["releases", String(c.releases)],
    ["deletes", String(c.deletes)],
    ["evictions", `${c.evictions} (${formatBytes(c.evictedBytes)})`],
    ["store-full errors", String(c.storeFullErrors)],
    ...spillSummary(s.spill),
  ];
}

/** The spill lines of `stats` (none when the store does not spill). */
function spillSummary(p: StatsView["spill"]): [string, string][] {
  if (p === null) return [];
  const d = p.drops;
  return [
    ["spilled", `${p.spilledObjects} (${formatBytes(p.spilledBytes)})`],
    ["spill disk", `${formatBytes(p.diskUsedBytes)} of ${formatBytes(p.diskBudgetBytes)}`],
    ["spills", `${p.spills} (${formatBytes(p.spilledBytesTotal)}), ${p.spillsInFlight} in flight`],
    ["restores", `${p.restores} (${formatBytes(p.restoredBytesTotal)}), ${p.restoreFailures} failed`],
    ["spill drops", `${d.budget} budget, ${d.diskFull} disk full, ${d.ioError} I/O error`],
  ];
}

function objectRows(objects: ObjectInfoView[]): string[][] {
  return objects.map((o) => [
    o.id,
    stateShort(o.state),
    formatBytes(o.dataSizeBytes),
    formatBytes(o.metadataSizeBytes),
    String(o.refCount),
    formatTime(o.createTimeMs),
    formatTime(o.lastAccessTimeMs),
  ]);
}

function clientRows(clients: ClientView[]): string[][] {
  return clients.map((c) => [
    String(c.clientId),
    String(c.pid),
    String(c.uid),
    formatTime(c.connectTimeMs),
    String(c.objectsHeld),
    String(c.referencesHeld),
    formatBytes(c.bytesCreated),
    String(c.pendingGets),
  ]);
}

export function eventLine(e: EventView): string {
  const head = `${formatTime(e.timeMs)} #${e.sequence} ${kindShort(e.kind)}`;
  if (e.object) {
    return `${head} ${e.object.id} data ${formatBytes(e.object.dataSizeBytes)} metadata ${formatBytes(e.object.metadataSizeBytes)}`;
  }
  if (e.client) return `${head} client ${e.client.clientId} pid ${e.client.pid} uid ${e.client.uid}`;
  return `${head} ${e.policyFrom} -> ${e.policyTo}`;
}

// ---------------------------------------------------------------------------------------- commands

interface Flags {
  json: boolean;
  state?: string;
  limit?: string;
  order?: string;
  desc?: boolean;
  prefix?: string;
  "min-size"?: string;
  "max-size"?: string;
  offset?: string;
  length?: string;
  kinds?: string;
  count?: string;
  "interval-ms"?: string;
  /** The token the calls carry (resolved from the flags, the environment or the token file). */
  token?: string;
}

/** The dashboard's address, with the token in the fragment (which browsers never send to the server). */
export function dashboardUrl(httpAddress: string, token: string | undefined): string {
  // An unspecified listen address is reached on loopback from here.
  const address = httpAddress.replace(/^0\.0\.0\.0:/, "127.0.0.1:").replace(/^\[::\]:/, "[::1]:");
  return `http://${address}/${token ? `#token=${encodeURIComponent(token)}` : ""}`;
}

function positiveInt(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${flag} takes a non-negative integer.`);
  return n;
}

function needArgs(args: string[], n: number, what: string): void {
  if (args.length < n) throw new UsageError(`Missing ${what}.`);
}

const out = (text: string) => process.stdout.write(`${text}\n`);

async function run(client: AdminClient, command: string, args: string[], f: Flags): Promise<number> {
  switch (command) {
    case "dashboard": {
      const http = (await client.info()).admin?.http ?? "";
      if (http === "") throw new UsageError("This store's admin HTTP is off (--admin-http).");
      out(dashboardUrl(http, f.token));
      return 0;
    }
    case "info": {
      const i = await client.info();
      if (f.json) {
        out(toJson(i));
        return 0;
      }
      out(
        keyValues([
          ["version", i.version],
          ["pid", String(i.pid)],
          ["hostname", i.hostname],
          ["socket", i.socketPath],
          ["capacity", formatBytes(i.capacityBytes)],
          [
            "arena",
            `${formatBytes(i.arenaBytes)} ${i.backing}${i.backingPath ? ` in ${i.backingPath}` : ""}`,
          ],
          ["huge pages", i.hugePages ? "yes" : "no"],
          ["page size", formatBytes(i.pageSizeBytes)],
          ["started", formatTime(i.startTimeMs)],
          ["uptime", formatDuration(i.uptimeSeconds)],
          ["eviction policy", i.evictionPolicy],
          ["admin gRPC", i.admin?.grpc || "off"],
          ["admin HTTP", i.admin?.http || "off"],
          ["token required", i.admin?.tokenRequired ? "yes" : "no"],
        ]),
      );
      return 0;
    }
    case "stats": {
      const s = await client.stats();
      out(f.json ? toJson(s) : keyValues(statsSummary(s)));
      return 0;
    }
    case "ls": {
      const limit = positiveInt(f.limit, "--limit") ?? Number.POSITIVE_INFINITY;
      const stateText = (f.state ?? "all").toLowerCase();
      const states: Record<string, ListObjectsQuery["state"]> = {
        all: "OBJECT_STATE_UNSPECIFIED",
        created: "OBJECT_STATE_CREATED",
        sealed: "OBJECT_STATE_SEALED",
        spilled: "OBJECT_STATE_SPILLED",
      };
      const orders: Record<string, ListObjectsQuery["orderBy"]> = {
        create_time: "ORDER_BY_CREATE_TIME",
        size: "ORDER_BY_SIZE",
        last_access: "ORDER_BY_LAST_ACCESS",
      };
      const state = states[stateText];
      if (state === undefined) throw new UsageError("--state takes created, sealed, spilled or all.");
      const orderBy = orders[(f.order ?? "create_time").toLowerCase()];
      if (orderBy === undefined) throw new UsageError("--order takes create_time, size or last_access.");
      const query: ListObjectsQuery = {
        state,
        orderBy,
        descending: f.desc === true,
        idPrefix: f.prefix,
        minSizeBytes: f["min-size"] === undefined ? 0 : parseBytes(f["min-size"], "--min-size"),
        maxSizeBytes: f["max-size"] === undefined ? 0 : parseBytes(f["max-size"], "--max-size"),
      };
      const objects: ObjectInfoView[] = [];
      let pageToken = "";
      let total = 0;
      do {
        const pageSize = Math.min(1000, Math.max(1, limit - objects.length));
        const page = await client.listObjects({ ...query, pageSize, pageToken });
        objects.push(...page.objects);
        total = page.totalCount;
        pageToken = page.nextPageToken;
      } while (pageToken !== "" && objects.length < limit);
      const shown = objects.slice(0, Number.isFinite(limit) ? limit : undefined);
      if (f.json) {
        out(toJson({ objects: shown, totalCount: total }));
        return 0;
      }
      out(table(["ID", "STATE", "DATA", "METADATA", "REFS", "CREATED", "LAST ACCESS"], objectRows(shown)));
      if (shown.length < total) out(`(${shown.length} of ${total} objects; --limit to see more)`);
      return 0;
    }
    case "show": {
      needArgs(args, 1, "object id (show ID)");
      const o = await client.getObject(args[0] as string);
      if (f.json) {
        out(toJson(o));
        return 0;
      }
      out(
        keyValues([
          ["id", o.id],
          ["state", stateShort(o.state)],
          ["data", `${formatBytes(o.dataSizeBytes)} (${o.dataSizeBytes} bytes)`],
          ["metadata size", `${formatBytes(o.metadataSizeBytes)} (${o.metadataSizeBytes} bytes)`],
          ["allocated", formatBytes(o.allocatedBytes)],
          ["ref count", String(o.refCount)],
          ["created", formatTime(o.createTimeMs)],
          ["construct time", o.constructDurationMs < 0 ? "-" : `${o.constructDurationMs.toFixed(3)} ms`],
          ["last access", formatTime(o.lastAccessTimeMs)],
          ["accesses", String(o.accessCount)],
          ["delete pending", o.deletePending ? "yes" : "no"],
          ["metadata", printableMetadata(o.metadata)],
        ]),
      );
      return 0;
    }
    case "cat": {
      needArgs(args, 1, "object id (cat ID)");
      const writer = Bun.stdout.writer();
      for await (const chunk of client.readObject(args[0] as string, {
        offsetBytes: positiveInt(f.offset, "--offset"),
        lengthBytes: positiveInt(f.length, "--length"),
      })) {
        writer.write(chunk.data);
        await writer.flush();
      }
      await writer.end();
      return 0;
    }
    case "rm": {
      needArgs(args, 1, "object ids (rm ID...)");
      const r = await client.deleteObjects(args);
      if (f.json) out(toJson(r));
      else {
        for (const id of r.deleted) out(`deleted ${id}`);
        for (const id of r.pending) out(`delete pending (in use or unsealed) ${id}`);
        for (const id of r.notFound) out(`not found ${id}`);
      }
      return r.notFound.length > 0 ? 1 : 0;
    }
    case "evict": {
      needArgs(args, 1, "byte count (evict BYTES)");
      const r = await client.evict(parseBytes(args[0] as string, "evict BYTES"));
      if (f.json) {
        out(toJson(r));
        return 0;
      }
      out(`evicted ${r.evicted.length} objects, ${formatBytes(r.freedBytes)} (${r.freedBytes} bytes)`);
      for (const o of r.evicted) out(`  ${o.id}  ${formatBytes(o.dataSizeBytes + o.metadataSizeBytes)}`);
      return 0;
    }
    case "policy": {
      const p = args.length > 0 ? await client.setPolicy(args[0] as string) : await client.policy();
      if (f.json) {
        out(toJson(p));
        return 0;
      }
      if (args.length > 0) out(`eviction policy: ${p.previous} -> ${p.name}`);
      else out(`eviction policy: ${p.name} (available: ${p.available.join(", ")})`);
      out(`evictable: ${p.evictableObjects} objects, ${formatBytes(p.evictableBytes)}`);
      return 0;
    }
    case "clients": {
      const clients = await client.clients();
      if (f.json) {
        out(toJson({ clients }));
        return 0;
      }
      out(
        table(
          ["CLIENT", "PID", "UID", "CONNECTED", "OBJECTS", "REFS", "CREATED", "PENDING GETS"],
          clientRows(clients),
        ),
      );
      return 0;
    }
    case "watch": {
      const kinds = (f.kinds ?? "")
        .split(",")
        .map((k) => k.trim())
        .filter((k) => k !== "")
        .map((k) =>
          k.toUpperCase().startsWith("EVENT_KIND_") ? k.toUpperCase() : `EVENT_KIND_${k.toUpperCase()}`,
        );
      for (const k of kinds) {
        if (!(EVENT_KIND_NAMES as readonly string[]).includes(k)) {
          throw new UsageError(`Unknown event kind ${JSON.stringify(kindShort(k))}.`);
        }
      }
      const count = positiveInt(f.count, "--count") ?? Number.POSITIVE_INFINITY;
      const watch = client.watch(kinds as EventKindName[]);
      process.once("SIGINT", () => watch.cancel());
      process.once("SIGTERM", () => watch.cancel());
      let seen = 0;
      if (count === 0) {
        watch.cancel();
        return 0;
      }
      for await (const event of watch.events) {
        out(f.json ? toJson(event) : eventLine(event));
        if (++seen >= count) {
          watch.cancel();
          break;
        }
      }
      return 0;
    }
    case "top": {
      const intervalMs = positiveInt(f["interval-ms"], "--interval-ms") ?? 1000;
      const count = positiveInt(f.count, "--count") ?? Number.POSITIVE_INFINITY;
      let stop = false;
      process.once("SIGINT", () => {
        stop = true;
      });
      const tty = process.stdout.isTTY === true && !f.json;
      for (let i = 0; i < count && !stop; i++) {
        if (i > 0) await Bun.sleep(intervalMs);
        const [info, stats, clients, page] = await Promise.all([
          client.info(),
          client.stats(),
          client.clients(),
          client.listObjects({ orderBy: "ORDER_BY_SIZE", descending: true, pageSize: 10 }),
        ]);
        if (f.json) {
          out(toJson({ timeMs: Date.now(), stats, clients: clients.length, largest: page.objects }));
          continue;
        }
        if (tty) process.stdout.write("\x1b[2J\x1b[H");
        out(
          `plasma_store ${info.version} pid ${info.pid} on ${info.hostname}, up ${formatDuration(info.uptimeSeconds)}, ${info.socketPath}`,
        );
        out(keyValues(statsSummary(stats)));
        out("");
        out("largest objects:");
        out(
          table(
            ["ID", "STATE", "DATA", "METADATA", "REFS", "CREATED", "LAST ACCESS"],
            objectRows(page.objects),
          ),
        );
        if (!tty) out("");
      }
      return 0;
    }
    default: {
      const code = await clusterCommand(client, command, args, f.json, out);
      if (code === null) throw new UsageError(`Unknown command ${JSON.stringify(command)}.`);
      return code;
    }
  }
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<
    typeof parseArgs<{
      options: Record<string, { type: "string" | "boolean" }>;
      allowPositionals: true;
      strict: true;
      args: string[];
    }>
  >;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        addr: { type: "string" },
        token: { type: "string" },
        "token-file": { type: "string" },
        socket: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean" },
        state: { type: "string" },
        limit: { type: "string" },
        order: { type: "string" },
        desc: { type: "boolean" },
        prefix: { type: "string" },
        "min-size": { type: "string" },
        "max-size": { type: "string" },
        offset: { type: "string" },
        length: { type: "string" },
        kinds: { type: "string" },
        count: { type: "string" },
        "interval-ms": { type: "string" },
      },
    });
  } catch (error) {
    console.error(`plasma-admin: ${(error as Error).message}\n\n${ADMIN_USAGE}`);
    return 2;
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  const [command, ...args] = parsed.positionals;
  if (v.help === true || command === undefined || command === "help") {
    (command === undefined && v.help !== true ? console.error : console.log)(ADMIN_USAGE);
    return command === undefined && v.help !== true ? 2 : 0;
  }
  const address = (v.addr as string | undefined) ?? process.env.PLASMA_ADMIN_ADDR ?? DEFAULT_ADMIN_GRPC;
  let token: string | undefined;
  try {
    token = resolveAdminClientToken(
      {
        token: v.token as string | undefined,
        tokenFile: v["token-file"] as string | undefined,
        socketPath: v.socket as string | undefined,
      },
      process.env,
    );
  } catch (error) {
    console.error(`plasma-admin: ${(error as Error).message}`);
    return 2;
  }
  const client = new AdminClient(address, { token });
  const flags: Flags = { ...(v as Omit<Flags, "json">), json: v.json === true, token };
  try {
    return await run(client, command, args, flags);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`plasma-admin: ${error.message}\n\n${ADMIN_USAGE}`);
      return 2;
    }
    if (error instanceof AdminCallError) {
      const hint =
        error.code === "UNAVAILABLE" ? ` (is plasma_store's admin gRPC at ${address}? --addr)` : "";
      console.error(`plasma-admin: ${error.code}: ${error.message}${hint}`);
      return 1;
    }
    throw error;
  } finally {
    client.close();
  }
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
