import type { ByteReader, ByteWriter } from "./bytes.ts";
import {
  CreateAndSealCodec,
  type CreateAndSealRequest,
  CreateCodec,
  type CreateRequest,
} from "./codecs/create.ts";
import { ErrorReplyCodec } from "./codecs/error-reply.ts";
import {
  type ObjectLocation,
  readIdKeys,
  readTimeout,
  writeEmptyFrame,
  writeIdFrame,
  writeIds,
} from "./codecs/fields.ts";
import { GetCodec, type GetKeysRequest, GetMetadataCodec, type GetReplyEntry } from "./codecs/get.ts";
import {
  HelloCodec,
  type HelloRequest,
  PollAdviceCodec,
  type Welcome,
  WelcomeCodec,
} from "./codecs/handshake.ts";
import { ListCodec, type ObjectInfoWire, StoreInfoCodec, type StoreInfoWire } from "./codecs/queries.ts";
import { ReleaseCodec } from "./codecs/release.ts";
import { NotificationCodec, type NotificationWire } from "./codecs/subscribe.ts";
import type { PlasmaError } from "./errors.ts";
import { beginFrame, endFrame, FLAG_REPLY } from "./frame.ts";

export { ByteReader, ByteWriter } from "./bytes.ts";
/**
 * The protocol's messages: every codec (src/protocol/codecs/), re-exported. Below them, the encode/decode
 * functions the store's server and some tests still call by their old names: thin deprecated aliases of
 * the codecs, kept until their callers move to the codecs.
 */
export * from "./codecs/index.ts";

// ---------------------------------------------------------------- deprecated aliases (store edge)

/** @deprecated WelcomeCodec.encode */
export function encodeWelcome(out: ByteWriter, welcome: Welcome): void {
  WelcomeCodec.encode(out, welcome);
}

/** @deprecated WelcomeCodec.encodeRefusal */
export function encodeWelcomeRefusal(out: ByteWriter, error: PlasmaError): void {
  WelcomeCodec.encodeRefusal(out, error);
}

/** @deprecated ErrorReplyCodec.encode */
export function encodeErrorReply(out: ByteWriter, type: number, requestId: number, error: PlasmaError): void {
  ErrorReplyCodec.encode(out, type, requestId, error);
}

/** @deprecated the codec's encodeReply (every empty reply is a codec's, e.g. SealCodec.encodeReply) */
export function encodeEmptyReply(out: ByteWriter, type: number, requestId: number): void {
  writeEmptyFrame(out, type, FLAG_REPLY, requestId);
}

/** @deprecated PollAdviceCodec.encode */
export function encodePollAdvice(out: ByteWriter, pollUs: number): void {
  PollAdviceCodec.encode(out, pollUs);
}

/** @deprecated HelloCodec.decodeRequest (which also checks the body's end) */
export function decodeHello(r: ByteReader): HelloRequest {
  return HelloCodec.decodeRequest(r);
}

/** @deprecated CreateCodec.decodeRequest */
export function decodeCreate(r: ByteReader, maxMetadataBytes: number): CreateRequest {
  return CreateCodec.decodeRequest(r, maxMetadataBytes);
}

/** @deprecated CreateCodec.encodeReply */
export function encodeCreateReply(out: ByteWriter, requestId: number, loc: ObjectLocation): void {
  CreateCodec.encodeReply(out, requestId, loc);
}

/** @deprecated CreateAndSealCodec.decodeRequest */
export function decodeCreateAndSeal(
  r: ByteReader,
  maxMetadataBytes: number,
  maxDataBytes: number,
): CreateAndSealRequest {
  return CreateAndSealCodec.decodeRequest(r, maxMetadataBytes, maxDataBytes);
}

/** @deprecated GetCodec.decodeRequestKeys or GetMetadataCodec.decodeRequestKeys (which also check the end) */
export function decodeGetKeys(r: ByteReader, maxIds: number): GetKeysRequest {
  const timeoutMs = readTimeout(r, "timeout");
  return { timeoutMs, keys: readIdKeys(r, maxIds) };
}

/** @deprecated GetCodec.encodeReply */
export function encodeGetReply(out: ByteWriter, requestId: number, entries: readonly GetReplyEntry[]): void {
  GetCodec.encodeReply(out, requestId, entries);
}

/** @deprecated GetMetadataCodec.encodeReply */
export function encodeGetMetadataReply(
  out: ByteWriter,
  requestId: number,
  entries: readonly (Uint8Array | null)[],
): void {
  GetMetadataCodec.encodeReply(out, requestId, entries);
}

/** @deprecated DeleteCodec.decodeRequestKeys (which also checks the body's end) */
export function decodeIdKeys(r: ByteReader, maxIds: number): string[] {
  return readIdKeys(r, maxIds);
}

/** @deprecated ContainsCodec.encodeReply */
export function encodeBoolReply(out: ByteWriter, type: number, requestId: number, value: boolean): void {
  const at = beginFrame(out, type, FLAG_REPLY, requestId);
  out.u8(value ? 1 : 0);
  endFrame(out, at);
}

/** @deprecated HashCodec.encodeReply */
export function encodeBytesReply(out: ByteWriter, type: number, requestId: number, value: Uint8Array): void {
  const at = beginFrame(out, type, FLAG_REPLY, requestId);
  out.blob(value);
  endFrame(out, at);
}

/** @deprecated DebugStringCodec.encodeReply */
export function encodeStringReply(out: ByteWriter, type: number, requestId: number, value: string): void {
  const at = beginFrame(out, type, FLAG_REPLY, requestId);
  out.string(value);
  endFrame(out, at);
}

/** @deprecated DeleteCodec.encodeReply / EvictCodec.encodeReply (requests: EvictCodec.encodeRequest) */
export function encodeU64(
  out: ByteWriter,
  type: number,
  flags: number,
  requestId: number,
  value: number,
): void {
  const at = beginFrame(out, type, flags, requestId);
  out.u64(value);
  endFrame(out, at);
}

/** @deprecated ListCodec.encodeReply */
export function encodeListReply(
  out: ByteWriter,
  requestId: number,
  objects: readonly ObjectInfoWire[],
): void {
  ListCodec.encodeReply(out, requestId, objects);
}

/** @deprecated NotificationCodec.encode */
export function encodeNotifications(
  out: ByteWriter,
  requestId: number,
  notes: readonly NotificationWire[],
): void {
  NotificationCodec.encode(out, requestId, notes);
}

/** @deprecated StoreInfoCodec.encodeReply */
export function encodeStoreInfoReply(out: ByteWriter, requestId: number, info: StoreInfoWire): void {
  StoreInfoCodec.encodeReply(out, requestId, info);
}

// ---------------------------------------------------------------- deprecated aliases (raw-frame tests)

/** @deprecated HelloCodec.encodeRequest */
export function encodeHello(out: ByteWriter, requestId: number, version: number, pid: number): void {
  HelloCodec.encodeRequest(out, requestId, { version, pid });
}

/** @deprecated CreateCodec.encodeRequest */
export function encodeCreate(out: ByteWriter, requestId: number, req: CreateRequest): void {
  CreateCodec.encodeRequest(out, requestId, req);
}

/** @deprecated CreateAndSealCodec.encodeRequest */
export function encodeCreateAndSeal(out: ByteWriter, requestId: number, req: CreateAndSealRequest): void {
  CreateAndSealCodec.encodeRequest(out, requestId, req);
}

/** @deprecated GetCodec.encodeRequest / GetMetadataCodec.encodeRequest */
export function encodeGet(
  out: ByteWriter,
  type: typeof GetCodec.type | typeof GetMetadataCodec.type,
  requestId: number,
  ids: readonly Uint8Array[],
  timeoutMs: number,
): void {
  (type === GetCodec.type ? GetCodec : GetMetadataCodec).encodeRequest(out, requestId, { ids, timeoutMs });
}

/** @deprecated ReleaseCodec.encodeRequestNoReply */
export function encodeRelease(out: ByteWriter, id: Uint8Array, count: number): void {
  ReleaseCodec.encodeRequestNoReply(out, id, count);
}

/** @deprecated the codec's encodeRequest (SealCodec, AbortCodec, ContainsCodec, HashCodec); any type */
export function encodeIdRequest(out: ByteWriter, type: number, requestId: number, id: Uint8Array): void {
  writeIdFrame(out, type, requestId, id);
}

/** @deprecated DeleteCodec.encodeRequest; writes the id list under any type */
export function encodeIdList(
  out: ByteWriter,
  type: number,
  requestId: number,
  ids: readonly Uint8Array[],
): void {
  const at = beginFrame(out, type, 0, requestId);
  writeIds(out, ids);
  endFrame(out, at);
}

/** @deprecated the codec's encodeRequest (ListCodec, StoreInfoCodec, ...); any type */
export function encodeEmptyRequest(out: ByteWriter, type: number, requestId: number): void {
  writeEmptyFrame(out, type, 0, requestId);
}
