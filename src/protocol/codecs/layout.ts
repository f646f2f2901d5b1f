import { OBJECT_ID_BYTES } from "../object-id.ts";

/**
 * Sizes of the fixed parts of message bodies, derived from the field widths (docs/protocol.md). Decoders
 * check `count * <entry bytes>` against the body before they allocate anything for `count` entries.
 */
export const U8_BYTES = 1;
export const U32_BYTES = 4;
export const U64_BYTES = 8;
export const F64_BYTES = 8;

/** The smallest entry of a Get or GetMetadata reply: u8 found = 0. */
export const MIN_GET_REPLY_ENTRY_BYTES = U8_BYTES;

/** One List reply entry: id, u64 dataSize, u32 metadataSize, u32 refCount, f64 createTime, f64 duration, u8 state. */
export const LIST_ENTRY_BYTES =
  OBJECT_ID_BYTES + U64_BYTES + U32_BYTES + U32_BYTES + F64_BYTES + F64_BYTES + U8_BYTES;

/** One notification: id, u64 dataSize, u32 metadataSize, u8 deleted. */
export const NOTIFICATION_BYTES = OBJECT_ID_BYTES + U64_BYTES + U32_BYTES + U8_BYTES;

/** A Hash reply's digest: XXH64, big-endian. */
export const HASH_DIGEST_BYTES = 8;

/** Largest error message carried in an error frame or a refusal. */
export const MAX_ERROR_MESSAGE_BYTES = 64 * 1024;

/** Largest debug string. */
export const MAX_DEBUG_STRING_BYTES = 16 * 1024 * 1024;

/** Entries in one List reply frame (about 4.3 MB); a larger list goes out in several (FLAG_MORE). */
export const LIST_ENTRIES_PER_FRAME = 65_536;

/** Notes in one Notification frame (about 2.2 MB); a larger batch goes out in several frames. */
export const NOTES_PER_FRAME = 65_536;
