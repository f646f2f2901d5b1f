/**
 * Errors of the admin plane: PlasmaError subclasses. Each AdminError has a stable `code` named after the
 * gRPC status it maps to; the HTTP edge maps the same codes to HTTP statuses. Both edges test
 * `instanceof AdminError` before `instanceof PlasmaError`, so these keep their own statuses.
 */
import { PlasmaError } from "../protocol/errors.ts";

export type AdminErrorCode =
  | "INVALID_ARGUMENT"
  | "NOT_FOUND"
  | "FAILED_PRECONDITION"
  | "PERMISSION_DENIED"
  | "UNAUTHENTICATED"
  | "RESOURCE_EXHAUSTED"
  | "UNAVAILABLE";

export class AdminError extends PlasmaError {
  declare readonly code: AdminErrorCode;
  constructor(code: AdminErrorCode, message: string) {
    super(message, code);
  }
}

/** A malformed id, page token, size or policy name. */
export class AdminInvalidArgumentError extends AdminError {
  constructor(message: string) {
    super("INVALID_ARGUMENT", message);
  }
}

export class AdminNotFoundError extends AdminError {
  constructor(message: string) {
    super("NOT_FOUND", message);
  }
}

/** The object exists but is not in a state the call needs (e.g. reading an unsealed object). */
export class AdminFailedPreconditionError extends AdminError {
  constructor(message: string) {
    super("FAILED_PRECONDITION", message);
  }
}

/** A destructive call on a read-only admin plane. */
export class AdminPermissionDeniedError extends AdminError {
  constructor(message: string) {
    super("PERMISSION_DENIED", message);
  }
}

/** Missing or wrong bearer token. */
export class AdminUnauthenticatedError extends AdminError {
  constructor(message: string) {
    super("UNAUTHENTICATED", message);
  }
}

/** A WatchEvents consumer fell too far behind. */
export class AdminResourceExhaustedError extends AdminError {
  constructor(message: string) {
    super("RESOURCE_EXHAUSTED", message);
  }
}

/** A backend the call needs (the cluster's etcd) did not answer; retry later. */
export class AdminUnavailableError extends AdminError {
  constructor(message: string) {
    super("UNAVAILABLE", message);
  }
}

/** An admin endpoint could not listen on its address (in use, not local, ...); raised only at start-up. */
export class AdminListenError extends PlasmaError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, "ADMIN_LISTEN", options);
  }
}

export const HTTP_STATUS_OF: Record<AdminErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  FAILED_PRECONDITION: 409,
  PERMISSION_DENIED: 403,
  UNAUTHENTICATED: 401,
  RESOURCE_EXHAUSTED: 429,
  UNAVAILABLE: 503,
};
