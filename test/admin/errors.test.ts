// The admin plane's errors follow the package's rule: PlasmaError subclasses with stable codes.
import { expect, test } from "bun:test";
import {
  AdminError,
  AdminFailedPreconditionError,
  AdminInvalidArgumentError,
  AdminListenError,
  AdminNotFoundError,
  AdminPermissionDeniedError,
  AdminResourceExhaustedError,
  AdminUnauthenticatedError,
  AdminUnavailableError,
  HTTP_STATUS_OF,
} from "../../src/admin/errors.ts";
import { PlasmaError } from "../../src/protocol/errors.ts";

test("every AdminError is a PlasmaError with the gRPC status name as its code and its own HTTP status", () => {
  const cases = [
    [new AdminInvalidArgumentError("m"), "INVALID_ARGUMENT", 400],
    [new AdminNotFoundError("m"), "NOT_FOUND", 404],
    [new AdminFailedPreconditionError("m"), "FAILED_PRECONDITION", 409],
    [new AdminPermissionDeniedError("m"), "PERMISSION_DENIED", 403],
    [new AdminUnauthenticatedError("m"), "UNAUTHENTICATED", 401],
    [new AdminResourceExhaustedError("m"), "RESOURCE_EXHAUSTED", 429],
    [new AdminUnavailableError("m"), "UNAVAILABLE", 503],
  ] as const;
  for (const [error, code, httpStatus] of cases) {
    expect(error).toBeInstanceOf(AdminError);
    expect(error).toBeInstanceOf(PlasmaError);
    expect(error.code).toBe(code);
    expect(error.name).toBe(error.constructor.name);
    expect(error.message).toBe("m");
    expect(HTTP_STATUS_OF[error.code]).toBe(httpStatus);
  }
});

test("AdminListenError is a PlasmaError (ADMIN_LISTEN) keeping its cause, and no AdminError", () => {
  const cause = new Error("EADDRINUSE");
  const error = new AdminListenError("Cannot serve admin gRPC on 127.0.0.1:1", { cause });
  expect(error).toBeInstanceOf(PlasmaError);
  expect(error).not.toBeInstanceOf(AdminError);
  expect(error.code).toBe("ADMIN_LISTEN");
  expect(error.cause).toBe(cause);
});
