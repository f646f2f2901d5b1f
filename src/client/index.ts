/** bun-plasma: the Bun client of plasma_store. */

export {
  AccessDeniedError,
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
} from "../protocol/errors.ts";
export { ObjectID } from "../protocol/object-id.ts";
export {
  type BufferWithMetadata,
  type ConnectOptions,
  type CreateOptions,
  connect,
  type GetOptions,
  type ObjectInfo,
  type ObjectNotification,
  PlasmaClient,
  type StoreInfo,
} from "./client.ts";
export { ObjectNotAvailable, VALUE_METADATA_PREFIX, ValueFormatError } from "./values.ts";
