/** Admin plane settings: where gRPC and HTTP listen, the token, and what the CLI flags mean. */

import { isLoopbackHost } from "../cli-support/loopback.ts";
import { UsageError } from "../cli-support/usage-error.ts";

export const DEFAULT_ADMIN_GRPC = "127.0.0.1:50051";
export const DEFAULT_ADMIN_HTTP = "127.0.0.1:9090";

export interface AdminEndpointOption {
  host: string;
  /** 0 picks a free port (the bound one is logged and reported by GetStoreInfo). */
  port: number;
  /** Taken from the default rather than asked for: when the port is busy, run without it and warn. */
  optional?: boolean;
}

export interface AdminOptions {
  /** null: gRPC disabled. */
  grpc: AdminEndpointOption | null;
  /** null: HTTP disabled. */
  http: AdminEndpointOption | null;
  /**
   * Bearer token every admin call must carry (health and readiness stay open). Absent: the store makes
   * one up at start and writes it to `<socket>.admin-token`, unless `insecure` is set.
   */
  token?: string;
  /** No token at all (anyone who can reach the admin plane may use it), even on a non-loopback address. */
  insecure?: boolean;
  /** Refuse delete, evict and policy changes (PERMISSION_DENIED / HTTP 403). */
  readOnly?: boolean;
  /** GET /metrics answers without the token (for a scraper that cannot send one). */
  metricsOpen?: boolean;
  /** Host header names HTTP accepts besides IP literals, localhost and the listen host (DNS rebinding). */
  allowedHosts?: readonly string[];
}

/** A bad admin setting; a UsageError, so the store CLI reports it with its usage. */
export class AdminConfigError extends UsageError {}

/** Parses HOST:PORT ("127.0.0.1:50051", "[::1]:9090", "0.0.0.0:0"); "off" gives null. */
export function parseAdminAddress(text: string, flag: string): AdminEndpointOption | null {
  const trimmed = text.trim();
  if (trimmed.toLowerCase() === "off") return null;
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):([0-9]{1,5})$/.exec(trimmed);
  const port = Number(match?.[3]);
  if (match === null || port > 65535) {
    throw new AdminConfigError(
      `${flag} ${JSON.stringify(text)} is not HOST:PORT (e.g. 127.0.0.1:50051, [::1]:9090, 0.0.0.0:0) or off.`,
    );
  }
  return { host: (match[1] ?? match[2]) as string, port };
}

/** Non-loopback admin endpoints need a token unless insecure is set. Throws AdminConfigError. */
export function checkAdminSecurity(options: AdminOptions): void {
  if (options.token || options.insecure) return;
  for (const [flag, endpoint] of [
    ["--admin-grpc", options.grpc],
    ["--admin-http", options.http],
  ] as const) {
    if (endpoint !== null && !isLoopbackHost(endpoint.host)) {
      throw new AdminConfigError(
        `${flag} ${endpoint.host} is not a loopback address: set --admin-token TOKEN (or PLASMA_ADMIN_TOKEN) so callers must authenticate, or pass --admin-insecure to allow anyone who can reach it.`,
      );
    }
  }
}

export interface AdminFlagValues {
  "admin-grpc"?: string;
  "admin-http"?: string;
  "admin-token"?: string;
  "admin-insecure"?: boolean;
  "admin-read-only"?: boolean;
  "admin-metrics-open"?: boolean;
  "admin-allowed-host"?: string[];
}

/** The admin flags for node:util parseArgs (the store CLI adds them to its own). */
export const ADMIN_PARSE_OPTIONS = {
  "admin-grpc": { type: "string" },
  "admin-http": { type: "string" },
  "admin-token": { type: "string" },
  "admin-insecure": { type: "boolean" },
  "admin-read-only": { type: "boolean" },
  "admin-metrics-open": { type: "boolean" },
  "admin-allowed-host": { type: "string", multiple: true },
} as const;

/** Host names from repeated --admin-allowed-host flags or a comma-separated PLASMA_ADMIN_ALLOWED_HOSTS. */
function allowedHostsOf(values: AdminFlagValues, env: Record<string, string | undefined>): string[] {
  const texts =
    values["admin-allowed-host"] ?? (env.PLASMA_ADMIN_ALLOWED_HOSTS ? [env.PLASMA_ADMIN_ALLOWED_HOSTS] : []);
  const names = texts.flatMap((t) => t.split(",")).map((n) => n.trim().toLowerCase());
  for (const name of names) {
    if (!/^[a-z0-9.-]+$/.test(name) && !/^\[[0-9a-f:.]+\]$/.test(name)) {
      throw new AdminConfigError(
        `--admin-allowed-host ${JSON.stringify(name)} is not a host name (give the name without a port, e.g. plasma.example.com).`,
      );
    }
  }
  return names;
}

/** Flags win over PLASMA_ADMIN_* environment variables, which win over the defaults. */
export function resolveAdminOptions(
  values: AdminFlagValues,
  env: Record<string, string | undefined>,
): AdminOptions {
  const grpcText = values["admin-grpc"] ?? env.PLASMA_ADMIN_GRPC;
  const httpText = values["admin-http"] ?? env.PLASMA_ADMIN_HTTP;
  const options: AdminOptions = {
    grpc:
      grpcText === undefined
        ? {
            ...(parseAdminAddress(DEFAULT_ADMIN_GRPC, "--admin-grpc") as AdminEndpointOption),
            optional: true,
          }
        : parseAdminAddress(grpcText, "--admin-grpc"),
    http:
      httpText === undefined
        ? {
            ...(parseAdminAddress(DEFAULT_ADMIN_HTTP, "--admin-http") as AdminEndpointOption),
            optional: true,
          }
        : parseAdminAddress(httpText, "--admin-http"),
    token: values["admin-token"] ?? (env.PLASMA_ADMIN_TOKEN || undefined),
    insecure: values["admin-insecure"] === true || env.PLASMA_ADMIN_INSECURE === "1",
    readOnly: values["admin-read-only"] === true || env.PLASMA_ADMIN_READ_ONLY === "1",
    metricsOpen: values["admin-metrics-open"] === true || env.PLASMA_ADMIN_METRICS_OPEN === "1",
    allowedHosts: allowedHostsOf(values, env),
  };
  checkAdminSecurity(options);
  return options;
}
