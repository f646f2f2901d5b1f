/** bun-plasma/store: start a store in this process (the plasma_store bin runs the same), and its types. */

export type { EvictionPolicyName } from "../store/eviction/policy.ts";
export type { StoreLimits } from "../store/limits.ts";
export {
  type MemoryAccounting,
  MemoryBackingError,
  type MemoryBackingErrorCode,
} from "../store/memory-backing.ts";
export { StoreCore } from "../store/store.ts";
export { DEFAULT_SOCKET_MODE, StoreAlreadyRunningError } from "./socket-file.ts";
export { DEFAULT_SOCKET_PATH, type StoreHandle, type StoreOptions, startStore } from "./start.ts";
