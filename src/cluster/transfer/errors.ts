/**
 * Typed errors of the store-to-store transfer. The puller raises them; the server sends only an Error
 * frame code (wire.ts), which the client turns back into one of these.
 */

import { UsageError } from "../../cli-support/usage-error.ts";
import { PlasmaConnectionError, PlasmaError, ProtocolError } from "../../protocol/errors.ts";

/** The transfer server refused the call: no token, or the wrong one. */
export class ClusterAuthError extends PlasmaError {
  constructor(message: string) {
    super(message, "CLUSTER_AUTH");
  }
}

/** No byte arrived from the peer for stallTimeoutMs. */
export class TransferStalledError extends PlasmaError {
  constructor(message: string) {
    super(message, "TRANSFER_STALLED");
  }
}

/** The whole pull took longer than its timeoutMs. */
export class TransferTimeoutError extends PlasmaError {
  constructor(message: string) {
    super(message, "TRANSFER_TIMEOUT");
  }
}

/** A chunk's bytes do not match the checksum the source sent with it. */
export class TransferChecksumError extends PlasmaError {
  constructor(message: string) {
    super(message, "TRANSFER_CHECKSUM");
  }
}

/** The source reported a failure of its own (it could not read the object, it is shutting down, ...). */
export class TransferFailedError extends PlasmaError {
  constructor(message: string) {
    super(message, "TRANSFER_FAILED");
  }
}

/** The peer broke the transfer protocol (a length, offset or frame it may not send). */
export class TransferProtocolError extends ProtocolError {}

/** The connection to the peer failed or closed before the pull finished. */
export class TransferConnectionError extends PlasmaConnectionError {}

/** A bad cluster transfer setting; a UsageError, so the store CLI reports it with its usage. */
export class ClusterConfigError extends UsageError {}
