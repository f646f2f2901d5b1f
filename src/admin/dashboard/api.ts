import type { Server } from "bun";
import type { Logger } from "../../log.ts";
import type { AdminAuth } from "../auth.ts";
import {
  AdminInvalidArgumentError,
  AdminNotFoundError,
  AdminPermissionDeniedError,
  AdminResourceExhaustedError,
} from "../errors.ts";
import { formatHostPort } from "../grpc.ts";
import {
  type AdminService,
  type ClientView,
  DEFAULT_CHUNK_BYTES,
  type EventView,
  type HeldObject,
  MAX_QUEUED_EVENTS,
  type StatsView,
} from "../service.ts";

/**
 * The HTTP endpoints the dashboard needs beyond the read-only /v1 JSON: a server-sent-events feed
 * (store events as WatchEvents sees them, plus a stats tick every second), an object's data as a
 * download, and the three actions (delete an object, evict bytes, set the eviction policy). The caller
 * (http.ts) has already checked the token; this module checks --admin-read-only for the actions.
 */

export interface DashboardApiContext {
  service: AdminService;
  auth: AdminAuth;
  logger: Logger;
  server: Server<undefined>;
}

/** A client as the dashboard shows it: ListClients plus the bytes of the objects it holds references on. */
export interface DashboardClientView extends ClientView {
  bytesHeld: number;
}

/** The `tick` event of /v1/feed, sent on connect and then every second. */
export interface DashboardTick {
  timeMs: number;
  stats: StatsView;
  clients: DashboardClientView[];
  evictionPolicy: string;
}

/** How often /v1/feed sends a stats tick. */
export const FEED_TICK_MS = 1000;
/** Store events sent in one chunk of the feed at most. */
const FEED_BATCH = 500;

function json(body: unknown, status = 200): Response {
  return new Response(`${JSON.stringify(body)}\n`, {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** The tick: stats and clients (with bytes held), one pass over the object table. */
export function dashboardTick(service: AdminService): DashboardTick {
  const bytesHeld = new Map<number, number>();
  for (const entry of service.core.list()) {
    for (const clientId of entry.holders.keys()) {
      bytesHeld.set(clientId, (bytesHeld.get(clientId) ?? 0) + entry.dataSize + entry.metadataSize);
    }
  }
  const stats = service.stats();
  return {
    timeMs: Date.now(),
    stats,
    clients: service.clients().map((c) => ({ ...c, bytesHeld: bytesHeld.get(c.clientId) ?? 0 })),
    evictionPolicy: stats.evictionPolicy,
  };
}

/**
 * Who asked, for the log: the peer address and the user agent (the token is never logged; with a token
 * set, whoever asked knew it).
 */
function requester(request: Request, server: Server<undefined>): { peer: string; userAgent: string } {
  const peer = server.requestIP(request);
  return {
    peer: peer ? formatHostPort(peer.address, peer.port) : "unknown",
    userAgent: request.headers.get("user-agent") ?? "",
  };
}

/**
 * A JSON body of an action. Only `application/json` is accepted: a cross-site page can send a
 * text/plain or form POST without a CORS preflight, but not JSON, so a browser on another site cannot
 * drive the actions of a store that has no token.
 */
async function jsonBody(request: Request): Promise<Record<string, unknown>> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) {
    throw new AdminInvalidArgumentError(
      "Send the request body as JSON with `content-type: application/json`.",
    );
  }
  let parsed: unknown;
  try {
    parsed = await request.json();
  } catch {
    throw new AdminInvalidArgumentError("The request body is not valid JSON.");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new AdminInvalidArgumentError("The request body must be a JSON object.");
  }
  return parsed as Record<string, unknown>;
}

function refuseIfReadOnly(ctx: DashboardApiContext, request: Request, what: string): void {
  if (!ctx.auth.readOnly) return;
  ctx.logger.warn(
    { ...requester(request, ctx.server), method: what },
    "admin HTTP request refused: the admin plane is read-only",
  );
  throw new AdminPermissionDeniedError(
    `${what} changes the store, and this admin plane is read-only (--admin-read-only); ask its operator.`,
  );
}

/**
 * Routes of the dashboard API under /v1 (already authenticated). Returns null for a path that is not
 * one of them, so http.ts can go on with its own.
 */
export async function dashboardApi(
  request: Request,
  path: string,
  ctx: DashboardApiContext,
): Promise<Response | null> {
  const method = request.method;
  const { service, logger: log } = ctx;
  if (path === "/v1/feed" && method === "GET") return feed(request, ctx);
  if (path === "/v1/evict" && method === "POST") {
    refuseIfReadOnly(ctx, request, "Evict");
    const body = await jsonBody(request);
    const bytes = body.bytes;
    if (typeof bytes !== "number" || !Number.isSafeInteger(bytes) || bytes < 0) {
      throw new AdminInvalidArgumentError('Send {"bytes": N} with N a non-negative integer.');
    }
    const result = service.evict(bytes);
    log.info(
      {
        ...requester(request, ctx.server),
        method: "POST /v1/evict",
        bytes,
        freedBytes: result.freedBytes,
        evicted: result.evicted.map((o) => o.id),
      },
      "admin evicted objects",
    );
    return json(result);
  }
  if (path === "/v1/policy" && (method === "PUT" || method === "POST")) {
    refuseIfReadOnly(ctx, request, "SetEvictionPolicy");
    const body = await jsonBody(request);
    const result = service.setPolicy(typeof body.name === "string" ? body.name : "");
    log.info(
      {
        ...requester(request, ctx.server),
        method: `${method} /v1/policy`,
        from: result.previous,
        to: result.name,
      },
      "admin set the eviction policy",
    );
    return json(result);
  }
  const data = /^\/v1\/objects\/([^/]+)\/data$/.exec(path);
  if (data !== null && (method === "GET" || method === "HEAD")) {
    return download(request, decodeURIComponent(data[1] as string), ctx);
  }
  const object = /^\/v1\/objects\/([^/]+)$/.exec(path);
  if (object !== null && method === "DELETE") {
    refuseIfReadOnly(ctx, request, "DeleteObjects");
    const result = service.deleteObjects([decodeURIComponent(object[1] as string)]);
    log.info(
      { ...requester(request, ctx.server), method: "DELETE /v1/objects/ID", ...result },
      "admin deleted objects",
    );
    if (result.notFound.length > 0) {
      throw new AdminNotFoundError(`Object ${result.notFound[0]} is not in the store.`);
    }
    return json(result);
  }
  return null;
}

/** GET /v1/objects/ID/data: the sealed object's data bytes, streamed in 1 MiB chunks as they are read. */
function download(request: Request, id: string, ctx: DashboardApiContext): Response {
  const held: HeldObject = ctx.service.holdObject(id);
  const size = held.dataSizeBytes;
  ctx.logger.debug({ ...requester(request, ctx.server), id: held.id, size }, "admin HTTP download");
  const headers = {
    "content-type": "application/octet-stream",
    // Bun sends a streamed body chunked (no Content-Length): the size rides in its own header.
    "x-data-size-bytes": String(size),
    "content-disposition": `attachment; filename="${held.id}.bin"`,
    "cache-control": "no-store",
  };
  if (request.method === "HEAD" || size === 0) {
    held.close();
    return new Response(null, { headers });
  }
  let position = 0;
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        try {
          const n = Math.min(DEFAULT_CHUNK_BYTES, size - position);
          controller.enqueue(held.read(position, n));
          position += n;
          if (position >= size) {
            held.close();
            controller.close();
          }
        } catch (error) {
          held.close();
          controller.error(error);
        }
      },
      cancel() {
        held.close();
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { headers });
}

/**
 * GET /v1/feed: text/event-stream. `tick` events (DashboardTick) on connect and every second; `store`
 * events (EventView, `id:` its sequence) for every store event, in order, the same events WatchEvents
 * streams. A reader that falls MAX_QUEUED_EVENTS behind gets an `overflow` event and the stream ends.
 */
function feed(request: Request, ctx: DashboardApiContext): Response {
  const { service, logger: log } = ctx;
  const events: EventView[] = [];
  let overflow = false;
  let tickDue = true;
  let closed = false;
  let wake: (() => void) | null = null;
  const poke = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  const stopWatching = service.watch([], (event) => {
    if (overflow || closed) return;
    if (events.length >= MAX_QUEUED_EVENTS) {
      overflow = true;
      events.length = 0;
    } else {
      events.push(event);
    }
    poke();
  });
  const timer = setInterval(() => {
    tickDue = true;
    poke();
  }, FEED_TICK_MS);
  const cleanup = () => {
    if (closed) return;
    closed = true;
    clearInterval(timer);
    stopWatching();
    events.length = 0;
    poke();
    log.debug({ peer: requester(request, ctx.server).peer }, "admin HTTP feed closed");
  };
  request.signal.addEventListener("abort", cleanup);
  // The feed is long-lived: no idle timeout for this request (the server's applies to the others).
  ctx.server.timeout(request, 0);
  log.debug({ peer: requester(request, ctx.server).peer }, "admin HTTP feed opened");
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          if (closed) {
            controller.close();
            return;
          }
          if (overflow) {
            const error = new AdminResourceExhaustedError(
              `This feed fell ${MAX_QUEUED_EVENTS} events behind; reload to connect again.`,
            );
            controller.enqueue(
              encoder.encode(
                `event: overflow\ndata: ${JSON.stringify({ code: error.code, message: error.message })}\n\n`,
              ),
            );
            cleanup();
            controller.close();
            return;
          }
          if (events.length > 0) {
            const batch = events.splice(0, FEED_BATCH);
            let text = "";
            for (const event of batch) {
              text += `event: store\nid: ${event.sequence}\ndata: ${JSON.stringify(event)}\n\n`;
            }
            controller.enqueue(encoder.encode(text));
            return;
          }
          if (tickDue) {
            tickDue = false;
            controller.enqueue(
              encoder.encode(`event: tick\ndata: ${JSON.stringify(dashboardTick(service))}\n\n`),
            );
            return;
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
      },
      cancel() {
        cleanup();
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    },
  });
}
