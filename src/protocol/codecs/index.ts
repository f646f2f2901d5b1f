/**
 * One codec per message, shared by store and client (layouts in docs/protocol.md). Request/reply messages
 * are MessageCodec objects; Welcome, PollAdvice and Notification go one way (store → client) and have an
 * encode/decode pair; ErrorReplyCodec is the error reply of any request.
 */
export {
  BATCH_PREFIX_BYTES,
  BatchCodec,
  type BatchFrame,
  MAX_BATCH_BODY_BYTES,
  MAX_BATCH_FRAMES,
} from "./batch.ts";
export {
  type ClusterNodeWire,
  LocateCodec,
  MAX_CLUSTER_NODES,
  MAX_LOCATE_IDS,
  NodesCodec,
} from "./cluster.ts";
export type { MessageCodec } from "./codec.ts";
export {
  CreateAndSealCodec,
  type CreateAndSealRequest,
  CreateCodec,
  type CreateRequest,
} from "./create.ts";
export { DeleteCodec, EvictCodec } from "./delete-evict.ts";
export { ErrorReplyCodec } from "./error-reply.ts";
export type { ObjectLocation } from "./fields.ts";
export {
  GetCodec,
  type GetKeysRequest,
  GetMetadataCodec,
  type GetReplyEntry,
  type GetRequest,
} from "./get.ts";
export {
  decodeWelcomeFrame,
  HelloCodec,
  type HelloRequest,
  MAX_ADVISED_POLL_US,
  PollAdviceCodec,
  type Welcome,
  WelcomeCodec,
} from "./handshake.ts";
export * from "./layout.ts";
export { MessageType, messageName } from "./message-type.ts";
export { AbortCodec, ContainsCodec, HashCodec, SealCodec } from "./one-id.ts";
export { PinsReleasedCodec } from "./pins-released.ts";
export {
  DebugStringCodec,
  ListCodec,
  type ObjectInfoWire,
  type ObjectState,
  StoreInfoCodec,
  type StoreInfoWire,
} from "./queries.ts";
export { ReleaseCodec, type ReleaseRequest } from "./release.ts";
export { NotificationCodec, type NotificationWire, SubscribeCodec } from "./subscribe.ts";
