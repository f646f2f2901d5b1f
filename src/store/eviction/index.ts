export {
  createEvictionPolicy,
  EVICTION_POLICY_NAMES,
  type EvictionObjectState,
  type EvictionPolicy,
  type EvictionPolicyName,
  isEvictionPolicyName,
  migratePolicy,
} from "./policy.ts";
export { MapKeyIndex, type PolicyKeyIndex } from "./tracking.ts";
