/** Admin plane settings: where gRPC and HTTP listen, the token, and what the CLI flags mean. */

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
  /** Bearer token every admin call must carry (health, readiness and metrics stay open). */
  token?: string;
  /** Allow a non-loopback address without a token. */
  insecure?: boolean;
  /** Refuse delete, evict and policy changes (PERMISSION_DENIED / HTTP 403). */
  readOnly?: boolean;
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

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
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
  };
  checkAdminSecurity(options);
  return options;
}
