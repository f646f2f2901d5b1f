export { type EvictionObjects, type LoadedFacts, MapEvictionObjects } from "./objects.ts";
export {
  createEvictionPolicy,
  EVICTION_POLICY_NAMES,
  type EvictionObjectState,
  type EvictionPolicy,
  type EvictionPolicyName,
  isEvictionPolicyName,
  migratePolicy,
} from "./policy.ts";
