import { ByteReader, type ByteWriter } from "../bytes.ts";
import { errorFromWire, errorToWireCode, type PlasmaError, ProtocolError } from "../errors.ts";
import { beginFrame, endFrame } from "../frame.ts";
import { FRAME_HEADER_BYTES, PROTOCOL_VERSION, WELCOME_MAGIC } from "../limits.ts";
import { emptyReply, type MessageCodec } from "./codec.ts";
import { endBody } from "./fields.ts";
import { MAX_ERROR_MESSAGE_BYTES } from "./layout.ts";
import { MessageType } from "./message-type.ts";

// ---------------------------------------------------------------- Welcome (store → client, with the fd)

export interface Welcome {
  version: number;
  capacityBytes: number;
  arenaBytes: number;
  clientId: number;
  maxObjectBytes: number;
  maxMetadataBytes: number;
  maxIdsPerRequest: number;
  /**
   * The client's uid is read-only on this store (--read-only-uid): its descriptor is O_RDONLY and the
   * store refuses create, seal, abort, delete and evict. On the wire: bit 0 of the u32 flags word.
   */
  readOnly: boolean;
  /**
   * The store publishes a shared-memory directory (docs/shared-directory.md): the Welcome then carries
   * three descriptors, arena, directory (read-only for the client) and the client's pin table, in that
   * order. On the wire: bit 1 of the flags word.
   */
  directory?: boolean;
}

/** Welcome flag bits. */
const WELCOME_READ_ONLY = 1;
const WELCOME_DIRECTORY = 2;

/** Status of a welcome that is a refusal without an error code of its own. */
const REFUSED_WITHOUT_CODE = 255;

/**
 * The store's first frame (request id 0), sent with the arena's descriptor: the welcome, or a refusal
 * (status = the error's wire code) without a descriptor.
 */
export const WelcomeCodec = {
  type: MessageType.Welcome,

  encode(out: ByteWriter, welcome: Welcome): void {
    const at = beginFrame(out, MessageType.Welcome, 0, 0);
    out.u32(WELCOME_MAGIC);
    out.u16(welcome.version);
    out.u8(0);
    out.u64(welcome.capacityBytes);
    out.u64(welcome.arenaBytes);
    out.u32(welcome.clientId);
    out.u64(welcome.maxObjectBytes);
    out.u32(welcome.maxMetadataBytes);
    out.u32(welcome.maxIdsPerRequest);
    out.u32(
      (welcome.readOnly ? WELCOME_READ_ONLY : 0) | (welcome.directory === true ? WELCOME_DIRECTORY : 0),
    );
    endFrame(out, at);
  },

  encodeRefusal(out: ByteWriter, error: PlasmaError): void {
    const at = beginFrame(out, MessageType.Welcome, 0, 0);
    out.u32(WELCOME_MAGIC);
    out.u16(PROTOCOL_VERSION);
    out.u8(errorToWireCode(error) || REFUSED_WITHOUT_CODE);
    out.string(error.message);
    endFrame(out, at);
  },

  /**
   * The welcome, or the store's refusal as a typed error (returned, not thrown). The version is checked
   * before anything after it is read: a store of another version may lay the rest out differently, and
   * must get the version mismatch error (thrown), not a complaint about the rest of its frame.
   */
  decode(r: ByteReader): Welcome | PlasmaError {
    if (r.u32("magic") !== WELCOME_MAGIC)
      throw new ProtocolError("The peer is not a plasma_store (bad magic).");
    const version = r.u16("version");
    if (version !== PROTOCOL_VERSION) {
      throw new ProtocolError(
        `Protocol version mismatch: the plasma_store speaks version ${version}, this client speaks ${PROTOCOL_VERSION}; use matching bun-plasma versions.`,
      );
    }
    const status = r.u8("status");
    if (status !== 0) {
      const refusal = errorFromWire(status, r.string(MAX_ERROR_MESSAGE_BYTES, "refusal"));
      endBody(r, MessageType.Welcome);
      return refusal;
    }
    const welcome: Welcome = {
      version,
      capacityBytes: r.u64("capacity"),
      arenaBytes: r.u64("arena size"),
      clientId: r.u32("client id"),
      maxObjectBytes: r.u64("max object size"),
      maxMetadataBytes: r.u32("max metadata size"),
      maxIdsPerRequest: r.u32("max ids"),
      readOnly: false,
    };
    const flags = r.u32("flags");
    welcome.readOnly = (flags & WELCOME_READ_ONLY) !== 0;
    if ((flags & WELCOME_DIRECTORY) !== 0) welcome.directory = true;
    endBody(r, MessageType.Welcome);
    return welcome;
  },
} as const;

// ---------------------------------------------------------------- Hello

export interface HelloRequest {
  version: number;
  pid: number;
}

/** The client's first request: its protocol version and pid; the reply is empty. */
export const HelloCodec = {
  type: MessageType.Hello,
  encodeRequest(out: ByteWriter, requestId: number, hello: HelloRequest): void {
    const at = beginFrame(out, MessageType.Hello, 0, requestId);
    out.u16(hello.version);
    out.u32(hello.pid);
    endFrame(out, at);
  },
  decodeRequest(r: ByteReader): HelloRequest {
    const hello = { version: r.u16("version"), pid: r.u32("pid") };
    endBody(r, MessageType.Hello);
    return hello;
  },
  ...emptyReply(MessageType.Hello),
} as const satisfies MessageCodec<HelloRequest, void>;

// ---------------------------------------------------------------- PollAdvice (store → client)

/** Longest client polling window the store may advise (µs); a larger advice is a protocol error. */
export const MAX_ADVISED_POLL_US = 10_000;

/**
 * How long the client should keep its event loop turning while it waits for a reply, in µs (0: sleep at
 * once). Unsolicited (request id 0, flags 0); sent after Hello and whenever the advice changes.
 */
export const PollAdviceCodec = {
  type: MessageType.PollAdvice,
  encode(out: ByteWriter, pollUs: number): void {
    const at = beginFrame(out, MessageType.PollAdvice, 0, 0);
    out.u32(pollUs);
    endFrame(out, at);
  },
  decode(r: ByteReader): number {
    const pollUs = r.u32("pollUs");
    endBody(r, MessageType.PollAdvice);
    if (pollUs > MAX_ADVISED_POLL_US) {
      throw new ProtocolError(`PollAdvice of ${pollUs} µs is over the limit of ${MAX_ADVISED_POLL_US} µs.`);
    }
    return pollUs;
  },
} as const;

/**
 * A whole welcome frame as recvmsg returns it (header and body): the welcome, or the store's refusal as a
 * typed error (returned). Throws ProtocolError when the bytes are not a welcome frame.
 */
export function decodeWelcomeFrame(frame: Uint8Array): Welcome | PlasmaError {
  if (frame.length < FRAME_HEADER_BYTES)
    throw new ProtocolError(`A welcome of ${frame.length} bytes is shorter than a frame header.`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const bodyBytes = view.getUint32(0, true);
  const type = view.getUint16(4, true);
  if (type !== MessageType.Welcome || bodyBytes !== frame.length - FRAME_HEADER_BYTES)
    throw new ProtocolError("The peer did not send a plasma_store welcome.");
  return WelcomeCodec.decode(new ByteReader(frame.subarray(FRAME_HEADER_BYTES)));
}
