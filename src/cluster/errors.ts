/** Typed errors of the cluster's directory. Raised in the store process, never sent on the wire. */
import { PlasmaError } from "../protocol/errors.ts";

/** No etcd endpoint answered (refused, timed out, or answered 5xx). Local operations are unaffected. */
export class ClusterUnavailableError extends PlasmaError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, "CLUSTER_UNAVAILABLE", options);
  }
}

/** etcd (or something posing as it) answered with a body that is not what the API promises. */
export class ClusterBadResponseError extends PlasmaError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, "CLUSTER_BAD_RESPONSE", options);
  }
}

/** The lease this store holds its directory entries under expired or was revoked. */
export class ClusterLeaseLostError extends PlasmaError {
  constructor(message: string) {
    super(message, "CLUSTER_LEASE_LOST");
  }
}

/** Another live store already holds this node name in this cluster. */
export class NodeNameTakenError extends PlasmaError {
  constructor(message: string) {
    super(message, "NODE_NAME_TAKEN");
  }
}

/** A directory value (an object's or a node's entry) that does not decode: skipped, never trusted. */
export class DirectoryValueError extends ClusterBadResponseError {}
