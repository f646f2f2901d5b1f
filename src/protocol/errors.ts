/**
 * Typed errors shared by store and client. Each class has a stable string `code` (for users) and a
 * numeric wire code (for the protocol). The store throws these from its core; the server encodes them
 * into error frames; the client decodes them back into the same classes.
 */

export type PlasmaErrorCode =
  | "PLASMA_ERROR"
  | "OBJECT_EXISTS"
  | "OBJECT_NOT_FOUND"
  | "OBJECT_ALREADY_SEALED"
  | "OBJECT_NOT_SEALED"
  | "STORE_FULL"
  | "PROTOCOL_ERROR"
  | "CONNECTION_ERROR"
  | "LIMIT_EXCEEDED"
  | "ACCESS_DENIED"
  | "INVALID_VALUE"
  | "VALUE_FORMAT"
  | "SUBSCRIPTION_OVERFLOW"
  // Cluster queries (locate, nodes) on a store without --cluster-etcd, or with etcd away.
  | "CLUSTER_OFF"
  // Store-to-store transfers (src/cluster/transfer); raised by the pulling store, never on the client wire.
  | "CLUSTER_AUTH"
  | "TRANSFER_STALLED"
  | "TRANSFER_TIMEOUT"
  | "TRANSFER_CHECKSUM"
  | "TRANSFER_FAILED"
  // Raised in the process that starts a store, never sent on the wire (they travel as PLASMA_ERROR).
  | "USAGE_ERROR"
  | "STORE_ALREADY_RUNNING"
  | "ARENA_NO_SPACE"
  | "ARENA_DIRECTORY"
  | "NOT_HUGETLBFS"
  | "HUGE_PAGES_UNAVAILABLE"
  | "PREFAULT_FAILED"
  // The cluster's directory (src/cluster/): raised in the store; only CLUSTER_UNAVAILABLE is sent on the
  // wire (a client's locate or nodes while etcd is away).
  | "CLUSTER_UNAVAILABLE"
  | "CLUSTER_BAD_RESPONSE"
  | "CLUSTER_LEASE_LOST"
  | "NODE_NAME_TAKEN"
  // Spilling (src/spill): raised in the store process, never sent on the wire.
  | "SPILL_FORMAT"
  | "SPILL_IO"
  | "SPILL_DISK_FULL"
  | "SPILL_DIRECTORY"
  | "SPILL_DIRECTORY_LOCKED"
  | "SPILL_CANCELLED"
  // The admin plane (src/admin/errors.ts), named after the gRPC status each maps to; never on the client wire.
  | "INVALID_ARGUMENT"
  | "NOT_FOUND"
  | "FAILED_PRECONDITION"
  | "PERMISSION_DENIED"
  | "UNAUTHENTICATED"
  | "RESOURCE_EXHAUSTED"
  | "UNAVAILABLE"
  // An admin endpoint could not listen at start-up.
  | "ADMIN_LISTEN";

/** Base class of every error this package throws on purpose. */
export class PlasmaError extends Error {
  readonly code: PlasmaErrorCode;
  constructor(message: string, code: PlasmaErrorCode = "PLASMA_ERROR", options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** create() of an id that already exists in the store (in any state). */
export class ObjectExistsError extends PlasmaError {
  constructor(message: string) {
    super(message, "OBJECT_EXISTS");
  }
}

/** The object is absent, or this client does not hold it the way the call needs. */
export class ObjectNotFoundError extends PlasmaError {
  constructor(message: string) {
    super(message, "OBJECT_NOT_FOUND");
  }
}

/** seal() or abort() of an object that is already sealed. */
export class ObjectAlreadySealedError extends PlasmaError {
  constructor(message: string) {
    super(message, "OBJECT_ALREADY_SEALED");
  }
}

/** An operation that needs a sealed object found it still being created. */
export class ObjectNotSealedError extends PlasmaError {
  constructor(message: string) {
    super(message, "OBJECT_NOT_SEALED");
  }
}

/** The store cannot make room for the object, even after evicting everything it may evict. */
export class StoreFullError extends PlasmaError {
  constructor(message: string) {
    super(message, "STORE_FULL");
  }
}

/** A malformed or unexpected frame, or a protocol version mismatch. */
export class ProtocolError extends PlasmaError {
  constructor(message: string) {
    super(message, "PROTOCOL_ERROR");
  }
}

/** The store cannot be reached, or the connection to it closed. */
export class PlasmaConnectionError extends PlasmaError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, "CONNECTION_ERROR", options);
  }
}

/** A request goes past one of the store's limits (object size, metadata size, ids per get, ...). */
export class LimitExceededError extends PlasmaError {
  constructor(message: string) {
    super(message, "LIMIT_EXCEEDED");
  }
}

/** The store refused this client (uid not allowed, too many clients). */
export class AccessDeniedError extends PlasmaError {
  constructor(message: string) {
    super(message, "ACCESS_DENIED");
  }
}

/**
 * A subscriber left more notifications unread than its subscription may queue (subscribe's
 * maxQueuedNotifications): the subscription ended there. Raised by the client, never sent on the wire.
 */
export class SubscriptionOverflowError extends PlasmaError {
  constructor(message: string) {
    super(message, "SUBSCRIPTION_OVERFLOW");
  }
}

/** A cluster query (locate, nodes) to a store that runs without --cluster-etcd. */
export class ClusterOffError extends PlasmaError {
  constructor(message: string) {
    super(message, "CLUSTER_OFF");
  }
}

const WIRE_CODES: ReadonlyArray<readonly [number, PlasmaErrorCode, (message: string) => PlasmaError]> = [
  [1, "OBJECT_EXISTS", (m) => new ObjectExistsError(m)],
  [2, "OBJECT_NOT_FOUND", (m) => new ObjectNotFoundError(m)],
  [3, "OBJECT_ALREADY_SEALED", (m) => new ObjectAlreadySealedError(m)],
  [4, "OBJECT_NOT_SEALED", (m) => new ObjectNotSealedError(m)],
  [5, "STORE_FULL", (m) => new StoreFullError(m)],
  [6, "PROTOCOL_ERROR", (m) => new ProtocolError(m)],
  [7, "LIMIT_EXCEEDED", (m) => new LimitExceededError(m)],
  [8, "ACCESS_DENIED", (m) => new AccessDeniedError(m)],
  [9, "CONNECTION_ERROR", (m) => new PlasmaConnectionError(m)],
  [10, "CLUSTER_OFF", (m) => new ClusterOffError(m)],
  [11, "CLUSTER_UNAVAILABLE", (m) => new PlasmaError(m, "CLUSTER_UNAVAILABLE")],
  [0, "PLASMA_ERROR", (m) => new PlasmaError(m)],
];

/** The numeric code an error travels as. */
export function errorToWireCode(error: PlasmaError): number {
  for (const [wire, code] of WIRE_CODES) if (code === error.code) return wire;
  return 0;
}

/** Rebuilds the typed error from a wire code and message; unknown codes become a plain PlasmaError. */
export function errorFromWire(wireCode: number, message: string): PlasmaError {
  for (const [wire, , make] of WIRE_CODES) if (wire === wireCode) return make(message);
  return new PlasmaError(message);
}
