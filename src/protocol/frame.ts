import type { ByteWriter } from "./bytes.ts";
import { ProtocolError } from "./errors.ts";
import { FRAME_HEADER_BYTES, MAX_FRAME_BODY_BYTES } from "./limits.ts";

/**
 * Frame layout (little-endian):
 *   u32 bodyBytes | u16 type | u16 flags | u32 requestId | body[bodyBytes]
 * Requests carry a client-chosen request id; replies echo it, so requests can be pipelined.
 * Request id 0 means "no reply wanted" (fire-and-forget release).
 * Every frame fits MAX_FRAME_BODY_BYTES by construction: a reply that could be larger is split (FLAG_MORE,
 * several Notification frames) or refused up front with a LimitExceededError.
 */
export const FLAG_REPLY = 1;
export const FLAG_ERROR = 2;
/**
 * On a reply frame (never an error): one part of a reply too large for one frame; more frames with the
 * same request id follow, the last one without this flag (List uses it).
 */
export const FLAG_MORE = 4;
const KNOWN_FLAGS = FLAG_REPLY | FLAG_ERROR | FLAG_MORE;
/** A reassembly buffer larger than this is dropped once empty, so one big frame does not pin memory. */
const SHRINK_ABOVE_BYTES = 1024 * 1024;

/** `view` is a DataView of the whole of `body.buffer`, for ByteReader (it saves one DataView per frame). */
export type FrameHandler = (
  type: number,
  flags: number,
  requestId: number,
  body: Uint8Array,
  view: DataView,
) => void;

/** Starts a frame in `out`; returns the position to pass to endFrame once the body is written. */
export function beginFrame(out: ByteWriter, type: number, flags: number, requestId: number): number {
  const at = out.skip(FRAME_HEADER_BYTES);
  out.view.setUint16(at + 4, type, true);
  out.view.setUint16(at + 6, flags, true);
  out.view.setUint32(at + 8, requestId, true);
  return at;
}

/** Fills in the body length of the frame started at `at`. */
export function endFrame(out: ByteWriter, at: number): void {
  const bodyBytes = out.length - at - FRAME_HEADER_BYTES;
  if (bodyBytes > MAX_FRAME_BODY_BYTES) {
    throw new ProtocolError(`Frame body of ${bodyBytes} bytes is over the limit of ${MAX_FRAME_BODY_BYTES}.`);
  }
  out.view.setUint32(at, bodyBytes, true);
}

/**
 * Reassembles frames from a byte stream. Frames that arrive whole inside one chunk are handed out as
 * views of that chunk (no copy); only a frame split across chunks is copied. Bodies are valid only during
 * the handler call: keep a copy of anything you retain.
 */
export class FrameReader {
  #pending: Uint8Array = new Uint8Array(0);
  #pendingLength = 0;
  #maxBodyBytes: number;
  #paused = false;
  readonly #onFrame: FrameHandler;

  constructor(onFrame: FrameHandler, maxBodyBytes = MAX_FRAME_BODY_BYTES) {
    this.#onFrame = onFrame;
    this.#maxBodyBytes = maxBodyBytes;
  }

  /** Bytes buffered: an incomplete frame, and while paused the frames not handed out yet. */
  get bufferedBytes(): number {
    return this.#pendingLength;
  }

  /** Largest frame body accepted; a header announcing more is a ProtocolError. May change between frames. */
  get maxBodyBytes(): number {
    return this.#maxBodyBytes;
  }
  set maxBodyBytes(bytes: number) {
    this.#maxBodyBytes = Math.min(bytes, MAX_FRAME_BODY_BYTES);
  }

  /** True between pause() and resume(). */
  get paused(): boolean {
    return this.#paused;
  }

  /**
   * Hands out no more frames (the one being handled finishes): what arrives is kept, unparsed, until
   * resume(). For a reader whose consumer is busy (the store pauses a client whose replies pile up).
   */
  pause(): void {
    this.#paused = true;
  }

  /** Hands out the frames kept while paused (the handler may pause again), then reads on as before. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    if (this.#pendingLength > 0) this.push(new Uint8Array(0));
  }

  /** Feeds bytes; calls the handler for every complete frame. Throws ProtocolError on a bad header. */
  push(chunk: Uint8Array): void {
    if (this.#pendingLength === 0) {
      const consumed = this.#drain(chunk);
      if (consumed < chunk.length) this.#keep(chunk.subarray(consumed));
      return;
    }
    this.#append(chunk);
    const buffered = this.#pending.subarray(0, this.#pendingLength);
    const consumed = this.#drain(buffered);
    if (consumed > 0) {
      this.#pending.copyWithin(0, consumed, this.#pendingLength);
      this.#pendingLength -= consumed;
    }
    if (this.#pendingLength === 0 && this.#pending.length > SHRINK_ABOVE_BYTES)
      this.#pending = new Uint8Array(0);
  }

  #drain(bytes: Uint8Array): number {
    let offset = 0;
    const view = new DataView(bytes.buffer);
    const base = bytes.byteOffset;
    while (!this.#paused && bytes.length - offset >= FRAME_HEADER_BYTES) {
      const bodyBytes = view.getUint32(base + offset, true);
      if (bodyBytes > this.#maxBodyBytes) {
        throw new ProtocolError(
          `Frame body of ${bodyBytes} bytes is over the limit of ${this.#maxBodyBytes}.`,
        );
      }
      const flags = view.getUint16(base + offset + 6, true);
      if ((flags & ~KNOWN_FLAGS) !== 0)
        throw new ProtocolError(`Frame has unknown flags 0x${flags.toString(16)}.`);
      if (bytes.length - offset < FRAME_HEADER_BYTES + bodyBytes) break;
      const type = view.getUint16(base + offset + 4, true);
      const requestId = view.getUint32(base + offset + 8, true);
      const bodyStart = offset + FRAME_HEADER_BYTES;
      offset = bodyStart + bodyBytes;
      this.#onFrame(type, flags, requestId, bytes.subarray(bodyStart, offset), view);
    }
    return offset;
  }

  #keep(rest: Uint8Array): void {
    this.#pendingLength = 0;
    this.#append(rest);
  }

  #append(chunk: Uint8Array): void {
    const needed = this.#pendingLength + chunk.length;
    if (needed > this.#pending.length) {
      // Room for the whole frame being received when its header is known (not twice a large frame).
      const grown = new Uint8Array(Math.max(needed, this.#frameBytesAhead(chunk), 4096));
      grown.set(this.#pending.subarray(0, this.#pendingLength));
      this.#pending = grown;
    }
    this.#pending.set(chunk, this.#pendingLength);
    this.#pendingLength = needed;
  }

  /**
   * Bytes up to the end of the first frame of pending + chunk when its header is there and that frame is
   * not complete (then it is the only one buffered, bar what follows in the chunk); else twice the buffer.
   */
  #frameBytesAhead(chunk: Uint8Array): number {
    const doubled = this.#pending.length * 2;
    if (this.#paused) return doubled;
    const header = new Uint8Array(FRAME_HEADER_BYTES);
    const fromPending = Math.min(this.#pendingLength, FRAME_HEADER_BYTES);
    if (fromPending + chunk.length < FRAME_HEADER_BYTES) return doubled;
    header.set(this.#pending.subarray(0, fromPending));
    header.set(chunk.subarray(0, FRAME_HEADER_BYTES - fromPending), fromPending);
    const bodyBytes = new DataView(header.buffer).getUint32(0, true);
    return Math.min(FRAME_HEADER_BYTES + bodyBytes, FRAME_HEADER_BYTES + this.#maxBodyBytes);
  }
}
