import type { Server } from "bun";
import type { Logger } from "../log.ts";
import { PlasmaError } from "../protocol/errors.ts";
import { type AdminAuth, describeAuthFailure } from "./auth.ts";
import { clusterHttp } from "./cluster-http.ts";
import { dashboardApi } from "./dashboard/api.ts";
import { dashboardPage } from "./dashboard/page.ts";
import { AdminError, AdminInvalidArgumentError, AdminNotFoundError, HTTP_STATUS_OF } from "./errors.ts";
import { formatHostPort } from "./grpc.ts";
import { createHostCheck } from "./host-check.ts";
import type { AdminMetrics } from "./metrics.ts";
import type { AdminService, ListObjectsQuery } from "./service.ts";

/**
 * The HTTP edge of the admin plane: /healthz and /readyz (open), the dashboard page (no store data in it),
 * /metrics and /v1/* JSON (the same data as gRPC, bytes as base64), both behind the token when one is set
 * (/metrics not with --admin-metrics-open). Requests whose Host header names a host other than this one
 * are refused with 421 (DNS rebinding).
 */

export interface AdminHttpOptions {
  service: AdminService;
  metrics: AdminMetrics;
  auth: AdminAuth;
  logger: Logger;
  host: string;
  port: number;
  /** Socket accepting and arena mapped. */
  ready(): boolean;
  /** GET /metrics without the token. */
  metricsOpen: boolean;
  /** Host header names accepted besides IP literals, localhost and `host` (--admin-allowed-host). */
  allowedHosts: readonly string[];
}

export interface AdminHttpServer {
  readonly address: string;
  readonly port: number;
  stop(): void;
}

function json(body: unknown, status = 200): Response {
  const text = JSON.stringify(body, (_key, value: unknown) =>
    value instanceof Uint8Array ? Buffer.from(value).toString("base64") : value,
  );
  return new Response(`${text}\n`, { status, headers: { "content-type": "application/json" } });
}

function errorResponse(error: AdminError): Response {
  return json({ error: { code: error.code, message: error.message } }, HTTP_STATUS_OF[error.code]);
}

function intParam(params: URLSearchParams, ...names: string[]): number | undefined {
  for (const name of names) {
    const text = params.get(name);
    if (text === null || text === "") continue;
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new AdminInvalidArgumentError(`Query parameter ${name} must be a non-negative integer.`);
    }
    return value;
  }
  return undefined;
}

const STATES: Record<string, ListObjectsQuery["state"]> = {
  created: "OBJECT_STATE_CREATED",
  sealed: "OBJECT_STATE_SEALED",
  spilled: "OBJECT_STATE_SPILLED",
  all: "OBJECT_STATE_UNSPECIFIED",
};
const ORDERS: Record<string, ListObjectsQuery["orderBy"]> = {
  create_time: "ORDER_BY_CREATE_TIME",
  size: "ORDER_BY_SIZE",
  last_access: "ORDER_BY_LAST_ACCESS",
};

/** Query of GET /v1/objects: state, min_size, max_size, prefix, order_by, desc, page_size, page_token, metadata_limit. */
export function objectsQueryOf(params: URLSearchParams): ListObjectsQuery {
  const stateText = (params.get("state") ?? "all").toLowerCase();
  const state = STATES[stateText] ?? STATES[stateText.replace(/^object_state_/, "")];
  if (state === undefined) throw new AdminInvalidArgumentError("state must be created, sealed or all.");
  const orderText = (params.get("order_by") ?? "create_time").toLowerCase();
  const orderBy = ORDERS[orderText] ?? ORDERS[orderText.replace(/^order_by_/, "")];
  if (orderBy === undefined)
    throw new AdminInvalidArgumentError("order_by must be create_time, size or last_access.");
  const desc = params.get("desc") ?? params.get("descending");
  return {
    state,
    orderBy,
    descending: desc === "1" || desc === "true",
    pageSize: intParam(params, "page_size", "limit"),
    pageToken: params.get("page_token") ?? undefined,
    minSizeBytes: intParam(params, "min_size", "min_size_bytes"),
    maxSizeBytes: intParam(params, "max_size", "max_size_bytes"),
    idPrefix: params.get("prefix") ?? params.get("id_prefix") ?? undefined,
    metadataLimitBytes: intParam(params, "metadata_limit", "metadata_limit_bytes"),
  };
}

/** 421 for a Host header that names another host (see host-check.ts). */
function misdirected(host: string | null): Response {
  const message = `This admin plane does not answer for Host ${JSON.stringify(host ?? "")}: use its IP address or localhost, or start the store with --admin-allowed-host NAME.`;
  return json({ error: { code: "MISDIRECTED_REQUEST", message } }, 421);
}

function peerOf(request: Request, server: Server<undefined>): string {
  const peer = server.requestIP(request);
  return peer ? formatHostPort(peer.address, peer.port) : "unknown";
}

export function startAdminHttp(options: AdminHttpOptions): AdminHttpServer {
  const { service, metrics, auth, logger: log } = options;
  const hostAllowed = createHostCheck(options.host, options.allowedHosts);
  const authenticate = (request: Request, server: Server<undefined>, path: string): void => {
    const failure = auth.check(request.headers.get("authorization") ?? undefined);
    if (failure === null) return;
    log.warn(
      { peer: peerOf(request, server), path, reason: describeAuthFailure(failure) },
      "admin HTTP request refused: unauthenticated",
    );
    throw failure;
  };
  const route = async (request: Request, server: Server<undefined>): Promise<Response> => {
    const url = new URL(request.url);
    const path = url.pathname;
    // Changes go through the dashboard's action endpoints (DELETE /v1/objects/ID, POST /v1/evict,
    // PUT /v1/policy); POST /v1/cluster/locate is a read with a body (long id lists); everything else is GET.
    const action =
      (request.method === "DELETE" && /^\/v1\/objects\/[^/]+$/.test(path)) ||
      (request.method === "POST" && path === "/v1/evict") ||
      ((request.method === "PUT" || request.method === "POST") && path === "/v1/policy") ||
      (request.method === "POST" && path === "/v1/cluster/locate");
    if (request.method !== "GET" && request.method !== "HEAD" && !action) {
      return json(
        {
          error: {
            code: "METHOD_NOT_ALLOWED",
            message: `${request.method} ${path} is not an admin endpoint: use GET, or DELETE /v1/objects/ID, POST /v1/evict, PUT /v1/policy, POST /v1/cluster/locate.`,
          },
        },
        405,
      );
    }
    // Health and readiness carry nothing: probes may send any Host.
    if (path === "/healthz") return new Response("ok\n");
    if (path === "/readyz") {
      return options.ready() ? new Response("ready\n") : new Response("not ready\n", { status: 503 });
    }
    const host = request.headers.get("host");
    if (!hostAllowed(host)) {
      log.warn({ peer: peerOf(request, server), path, host }, "admin HTTP request refused: Host not allowed");
      return misdirected(host);
    }
    if (path === "/" || path === "/index.html") return dashboardPage();
    if (path === "/metrics") {
      if (!options.metricsOpen) authenticate(request, server, path);
      return new Response(await metrics.render(), { headers: { "content-type": metrics.contentType } });
    }
    if (!path.startsWith("/v1/")) throw new AdminNotFoundError(`No admin endpoint at ${path}.`);
    authenticate(request, server, path);
    const dashboard = await dashboardApi(request, path, { service, auth, logger: log, server });
    if (dashboard !== null) return dashboard;
    const cluster = await clusterHttp(request, url, service.cluster);
    if (cluster !== null) return cluster;
    if (path === "/v1/info") return json(service.info());
    if (path === "/v1/stats") return json(service.stats());
    if (path === "/v1/objects") return json(service.listObjects(objectsQueryOf(url.searchParams)));
    if (path.startsWith("/v1/objects/")) {
      const limit = intParam(url.searchParams, "metadata_limit", "metadata_limit_bytes") ?? 0;
      return json(service.getObject(decodeURIComponent(path.slice("/v1/objects/".length)), limit));
    }
    if (path === "/v1/clients") return json({ clients: service.clients() });
    if (path === "/v1/policy") return json(service.policy());
    throw new AdminNotFoundError(`No admin endpoint at ${path}.`);
  };

  const server = Bun.serve({
    hostname: options.host,
    port: options.port,
    // Scrapes and curl are short; keep idle keep-alive connections from piling up.
    idleTimeout: 30,
    async fetch(request, srv) {
      try {
        return await route(request, srv);
      } catch (error) {
        if (error instanceof AdminError) return errorResponse(error);
        // decodeURIComponent of a path such as /v1/objects/%ZZ: the client's mistake, not ours.
        if (error instanceof URIError) {
          return errorResponse(
            new AdminInvalidArgumentError(`Malformed percent-encoding in ${new URL(request.url).pathname}.`),
          );
        }
        if (error instanceof PlasmaError) {
          return json({ error: { code: error.code, message: error.message } }, 400);
        }
        log.error({ err: error, url: request.url }, "admin HTTP request failed");
        return json({ error: { code: "INTERNAL", message: (error as Error).message } }, 500);
      }
    },
  });
  const port = server.port ?? options.port;
  return {
    address: formatHostPort(options.host, port),
    port,
    stop() {
      void server.stop(true);
    },
  };
}
