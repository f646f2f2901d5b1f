/** bun-plasma: the Bun client of plasma_store. */

export {
  AccessDeniedError,
  ClusterOffError,
  LimitExceededError,
  ObjectAlreadySealedError,
  ObjectExistsError,
  ObjectNotFoundError,
  ObjectNotSealedError,
  PlasmaConnectionError,
  PlasmaError,
  type PlasmaErrorCode,
  ProtocolError,
  StoreFullError,
  SubscriptionOverflowError,
} from "../protocol/errors.ts";
export { ObjectID } from "../protocol/object-id.ts";
export {
  type BufferWithMetadata,
  type ClusterNode,
  type ConnectOptions,
  type CreateOptions,
  connect,
  type GetOptions,
  type ObjectInfo,
  type ObjectNotification,
  PlasmaClient,
  type PutOptions,
  type StoreInfo,
  type SubscribeOptions,
  type ValueWithMetadata,
} from "./client.ts";
export { DEFAULT_MAX_QUEUED_NOTIFICATIONS } from "./subscription.ts";
export { type ArrowValue, getArrowStreamSize, readArrowStream, writeArrowStream } from "./values/arrow.ts";
export { type ByteSink, FixedSizeBufferWriter, MockOutputStream } from "./values/sink.ts";
export {
  getTensorSize,
  readTensor,
  TENSOR_ALIGNMENT_BYTES,
  Tensor,
  type TensorOptions,
  type TensorOrder,
  writeTensor,
} from "./values/tensor.ts";
export type { DType, NumericTypedArray, TypedArrayName } from "./values/typed-arrays.ts";
export {
  InvalidValueError,
  ObjectNotAvailable,
  VALUE_METADATA_PREFIX,
  type ValueFormat,
  ValueFormatError,
  valueFormatOf,
} from "./values.ts";
