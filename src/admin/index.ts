/** bun-plasma/admin: a client of the store's admin gRPC service, and the admin plane's types. */

export {
  AdminCallError,
  AdminClient,
  type AdminClientOptions,
  type ObjectChunk,
  type ReadObjectOptions,
} from "./client.ts";
export {
  type ClusterNodesView,
  type ClusterNodeView,
  type LocateObjectsView,
  MAX_LOCATE_IDS,
  type ObjectLocationView,
} from "./cluster-service.ts";
export type {
  ClusterAdminView,
  ClusterDirectoryWriteEvent,
  ClusterMetricEvent,
  ClusterNodeInfo,
  ClusterPullEvent,
} from "./cluster-view.ts";
export {
  type AdminEndpointOption,
  type AdminOptions,
  DEFAULT_ADMIN_GRPC,
  DEFAULT_ADMIN_HTTP,
} from "./config.ts";
export { AdminError, type AdminErrorCode, AdminListenError } from "./errors.ts";
export { ADMIN_PROTO_PATH, ADMIN_SERVICE_NAME } from "./proto.ts";
export type {
  AdminEndpointsView,
  ClientView,
  CountersView,
  DeleteObjectsView,
  EventKindName,
  EventView,
  EvictionPolicyView,
  EvictView,
  ListObjectsQuery,
  ListObjectsView,
  ObjectInfoView,
  ObjectStateName,
  ObjectSummaryView,
  OrderByName,
  SpillStatsView,
  StatsView,
  StoreInfoView,
} from "./service.ts";
