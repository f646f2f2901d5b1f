import { timingSafeEqual } from "node:crypto";
import { AdminUnauthenticatedError } from "./errors.ts";

/** Bearer-token check shared by the gRPC and HTTP edges. */
export interface AdminAuth {
  /** True when a token is configured: every call except health and readiness needs it. */
  readonly tokenRequired: boolean;
  /** Destructive calls (delete, evict, set policy) are refused with PERMISSION_DENIED / 403. */
  readonly readOnly: boolean;
  /** null when the `authorization` header value is acceptable; the error to report otherwise. */
  check(authorization: string | undefined): AdminUnauthenticatedError | null;
}

/**
 * `tokenFile`: where the store wrote a token it made up, for the hint of a refused call (the path, never
 * the token).
 */
export function createAdminAuth(token: string | undefined, readOnly = false, tokenFile?: string): AdminAuth {
  const expected = token ? Buffer.from(token, "utf8") : null;
  const where =
    tokenFile === undefined
      ? "the store's --admin-token"
      : `the token in ${tokenFile} (plasma-admin reads it there by itself)`;
  return {
    tokenRequired: expected !== null,
    readOnly,
    check(authorization) {
      if (expected === null) return null;
      if (authorization === undefined || authorization === "") {
        return new AdminUnauthenticatedError(
          `This admin plane needs a token: send \`authorization: Bearer TOKEN\` with ${where}.`,
        );
      }
      const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
      const given = Buffer.from(match?.[1] ?? "", "utf8");
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return new AdminUnauthenticatedError(
          `The admin token is wrong: send \`authorization: Bearer TOKEN\` with ${where}.`,
        );
      }
      return null;
    },
  };
}

/** For logs: which way the token check failed, never the token itself. */
export function describeAuthFailure(error: AdminUnauthenticatedError): string {
  return error.message.startsWith("This admin plane needs") ? "missing token" : "wrong token";
}
