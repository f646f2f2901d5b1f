/** The store-to-store transfer service: a server of sealed objects and a client that pulls one. */
export { createTokenCheck, type TokenCheck, type TokenVerdict } from "./auth.ts";
export {
  DEFAULT_CHUNK_BYTES,
  DEFAULT_STALL_TIMEOUT_MS,
  DEFAULT_WINDOW_CHUNKS,
  type PullOptions,
  type PullResult,
  pullObject,
} from "./client.ts";
export {
  checkTransferSecurity,
  DEFAULT_CLUSTER_LISTEN,
  formatTransferAddress,
  loadTransferTls,
  parseTransferAddress,
  type TransferClientTls,
  type TransferTls,
  type TransferTlsPaths,
} from "./config.ts";
export {
  ClusterAuthError,
  ClusterConfigError,
  TransferChecksumError,
  TransferConnectionError,
  TransferFailedError,
  TransferProtocolError,
  TransferStalledError,
  TransferTimeoutError,
} from "./errors.ts";
export {
  DEFAULT_IDLE_TIMEOUT_MS,
  TransferServer,
  type TransferServerOptions,
  type TransferServerStats,
} from "./server.ts";
export type { PullSink, PullTarget, TransferAddress, TransferObject, TransferSource } from "./types.ts";
