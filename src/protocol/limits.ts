/**
 * Every limit the protocol enforces, in one place. A frame or field past one of these is rejected with a
 * ProtocolError (framing) or LimitExceededError (a request the store could serve but will not).
 */

/** Version of the binary protocol; bumped on any incompatible change. Checked in the handshake. */
export const PROTOCOL_VERSION = 2;

/** Magic bytes at the start of the store's welcome frame: "PLSM". */
export const WELCOME_MAGIC = 0x4d534c50;

/** Bytes in a frame header: u32 body length, u16 type, u16 flags, u32 request id. */
export const FRAME_HEADER_BYTES = 12;

/** Largest frame body accepted from either side (createAndSeal carries its data inline up to this). */
export const MAX_FRAME_BODY_BYTES = 64 * 1024 * 1024;

/** Largest inline payload of a createAndSeal; larger data goes through create + write + seal. */
export const MAX_INLINE_DATA_BYTES = MAX_FRAME_BODY_BYTES - 1024 * 1024;

/** Default largest metadata per object (--max-metadata-size; at most MAX_METADATA_BYTES). */
export const DEFAULT_MAX_METADATA_BYTES = 1024 * 1024;

/** Default largest number of ids in one get, getMetadata or delete (--max-ids-per-request). */
export const DEFAULT_MAX_IDS_PER_REQUEST = 100_000;

/** The largest entry of a Get reply: u8 found, u64 offset, u64 dataSize, u32 metadataSize. */
const MAX_GET_REPLY_ENTRY_BYTES = 21;

/**
 * The protocol's hard maximum of ids in one request, above any configurable --max-ids-per-request: the
 * most for which both the request (i32 timeout, u32 count, 20 bytes per id) and the Get reply (u32 count,
 * 21 bytes per entry) fit one frame. Decoders reject more (ProtocolError); the store's own, lower limit is
 * its core's to check (LimitExceededError, the connection stays up).
 */
export const MAX_IDS_PER_REQUEST = Math.floor((MAX_FRAME_BODY_BYTES - 8) / MAX_GET_REPLY_ENTRY_BYTES);

/**
 * The protocol's hard maximum of one object's metadata, above any configurable --max-metadata-size: a
 * Create request and a GetMetadata reply of that object fit one frame with room to spare. Decoders reject
 * more (ProtocolError); the store's own, lower limit is its core's to check (LimitExceededError).
 */
export const MAX_METADATA_BYTES = MAX_FRAME_BODY_BYTES - 1024 * 1024;

/** Largest u64 we accept on the wire (JS numbers are exact up to 2^53). */
export const MAX_SAFE_U64 = Number.MAX_SAFE_INTEGER;

/** Largest timeout a get may ask for, in ms (about 24 days, a timer's limit); -1 means forever. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;
