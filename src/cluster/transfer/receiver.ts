/**
 * The pulling side's frame parser and state machine, without sockets or timers: push() the bytes that
 * arrive, in order. Every length, offset and size the peer sends is checked before it is used: chunks must
 * come in order, each exactly as long as the announced size allows, so nothing is ever written outside
 * [0, dataSize + metadataSize) and nothing is buffered beyond one small control frame.
 */
import type { PlasmaError } from "../../protocol/errors.ts";
import {
  ClusterAuthError,
  TransferChecksumError,
  TransferFailedError,
  TransferProtocolError,
} from "./errors.ts";
import type { PullSink, PullTarget } from "./types.ts";
import {
  CHECKSUM_CRC32_PER_CHUNK,
  CHUNK_HEADER_BYTES,
  decodeError,
  decodeHeader,
  FRAME_HEADER_BYTES,
  FrameType,
  HEADER_PAYLOAD_BYTES,
  MAX_CONTROL_PAYLOAD_BYTES,
  WireError,
} from "./wire.ts";

export type ReceiverStatus = "more" | "done" | "not-available";

const PREFIX_BYTES = FRAME_HEADER_BYTES + CHUNK_HEADER_BYTES;

export class PullReceiver {
  readonly #sink: PullSink;
  readonly #requestedChunkBytes: number;
  readonly #maxObjectBytes: number;
  #target: PullTarget | null = null;
  #finished = false;
  #notAvailableMessage = "";
  #totalBytes = -1;
  #chunkBytes = 0;
  #metadataSize = 0;
  #nextOffset = 0;
  /** Frame prefix being gathered: the 5-byte frame header, and for a CHUNK its 12-byte chunk header. */
  readonly #prefix = new Uint8Array(PREFIX_BYTES);
  readonly #prefixView = new DataView(this.#prefix.buffer);
  #prefixLength = 0;
  #control: Uint8Array | null = null;
  #controlLength = 0;
  #bodyRemaining = 0;
  #bodyCrc = 0;
  #bodyExpectedCrc = 0;
  #verifiedChunks = 0;

  constructor(sink: PullSink, requestedChunkBytes: number, maxObjectBytes: number) {
    this.#sink = sink;
    this.#requestedChunkBytes = requestedChunkBytes;
    this.#maxObjectBytes = maxObjectBytes;
  }

  get dataSize(): number {
    return this.#totalBytes < 0 ? 0 : this.#totalBytes - this.#metadataSize;
  }
  get metadataSize(): number {
    return this.#metadataSize;
  }
  get receivedBytes(): number {
    return this.#nextOffset;
  }
  get totalBytes(): number {
    return this.#totalBytes;
  }
  get notAvailableMessage(): string {
    return this.#notAvailableMessage;
  }
  /** The target begun and not yet committed or aborted (what abort() would abort). */
  get openTarget(): PullTarget | null {
    return this.#finished ? null : this.#target;
  }

  /** Chunks verified since the last call: the credit to send back. */
  takeVerifiedChunks(): number {
    const n = this.#verifiedChunks;
    this.#verifiedChunks = 0;
    return n;
  }

  /** Consumes bytes; throws a typed error on anything the peer may not send. Stops at "done". */
  push(data: Uint8Array): ReceiverStatus {
    let at = 0;
    while (at < data.length) {
      if (this.#bodyRemaining > 0) at = this.#consumeBody(data, at);
      else if (this.#control !== null) at = this.#consumeControl(data, at);
      else at = this.#consumePrefix(data, at);
      const status = this.status();
      if (status !== "more") return status;
    }
    return this.status();
  }

  status(): ReceiverStatus {
    if (this.#notAvailableMessage !== "") return "not-available";
    return this.#totalBytes >= 0 && this.#nextOffset === this.#totalBytes ? "done" : "more";
  }

  /** Commits the target: only after status() is "done". */
  async commit(): Promise<void> {
    const target = this.#target;
    if (this.status() !== "done" || target === null || this.#finished) {
      throw new TransferProtocolError("commit() before every byte of the object was verified.");
    }
    this.#finished = true;
    try {
      await target.commit();
    } catch (error) {
      target.abort();
      throw error;
    }
  }

  /** Aborts the target if one is open; safe to call more than once. */
  abort(): void {
    const target = this.openTarget;
    this.#finished = true;
    target?.abort();
  }

  #consumePrefix(data: Uint8Array, at: number): number {
    const need = this.#prefixLength < FRAME_HEADER_BYTES ? FRAME_HEADER_BYTES : PREFIX_BYTES;
    const n = Math.min(need - this.#prefixLength, data.length - at);
    this.#prefix.set(data.subarray(at, at + n), this.#prefixLength);
    this.#prefixLength += n;
    if (this.#prefixLength < need) return at + n;
    const payloadBytes = this.#prefixView.getUint32(0, true);
    const type = this.#prefixView.getUint8(4);
    if (type === FrameType.CHUNK) {
      if (this.#prefixLength === PREFIX_BYTES) this.#startChunk(payloadBytes);
      return at + n;
    }
    this.#prefixLength = 0;
    this.#startControl(type, payloadBytes);
    return at + n;
  }

  #startControl(type: number, payloadBytes: number): void {
    if (type !== FrameType.HEADER && type !== FrameType.ERROR) {
      throw new TransferProtocolError(
        `The source sent a frame of type ${type}, which a source may not send.`,
      );
    }
    if (payloadBytes > MAX_CONTROL_PAYLOAD_BYTES) {
      throw new TransferProtocolError(
        `The source sent a control frame of ${payloadBytes} bytes (at most ${MAX_CONTROL_PAYLOAD_BYTES}).`,
      );
    }
    this.#control = new Uint8Array(payloadBytes + 1);
    this.#control[0] = type;
    this.#controlLength = 1;
    if (payloadBytes === 0) this.#finishControl();
  }

  #consumeControl(data: Uint8Array, at: number): number {
    const control = this.#control as Uint8Array;
    const n = Math.min(control.length - this.#controlLength, data.length - at);
    control.set(data.subarray(at, at + n), this.#controlLength);
    this.#controlLength += n;
    if (this.#controlLength === control.length) this.#finishControl();
    return at + n;
  }

  #finishControl(): void {
    const control = this.#control as Uint8Array;
    this.#control = null;
    const payload = control.subarray(1);
    if (control[0] === FrameType.ERROR) this.#onError(payload);
    else this.#onHeader(payload);
  }

  #onError(payload: Uint8Array): void {
    const { code, message } = decodeError(payload);
    const text = `The source refused the pull: ${message}`;
    if (code === WireError.AUTH) throw new ClusterAuthError(text);
    if (code === WireError.NOT_FOUND && this.#totalBytes < 0) {
      this.#notAvailableMessage = message || "not found";
      return;
    }
    if (code === WireError.BAD_REQUEST || code === WireError.VERSION) throw new TransferProtocolError(text);
    throw new TransferFailedError(text);
  }

  #onHeader(payload: Uint8Array): void {
    if (this.#totalBytes >= 0) throw new TransferProtocolError("The source sent a second HEADER.");
    if (payload.length !== HEADER_PAYLOAD_BYTES) {
      throw new TransferProtocolError(
        `A HEADER is ${HEADER_PAYLOAD_BYTES} bytes, the source sent ${payload.length}.`,
      );
    }
    const header = decodeHeader(new DataView(payload.buffer, payload.byteOffset, payload.length), 0);
    const total = header.dataSize + header.metadataSize;
    if (!Number.isSafeInteger(total) || total > this.#maxObjectBytes) {
      throw new TransferProtocolError(
        `The source announced ${header.dataSize} + ${header.metadataSize} bytes, over this pull's limit of ${this.#maxObjectBytes}.`,
      );
    }
    if (header.chunkBytes < 1 || header.chunkBytes > this.#requestedChunkBytes) {
      throw new TransferProtocolError(
        `The source chose chunks of ${header.chunkBytes} bytes; this pull asked for at most ${this.#requestedChunkBytes}.`,
      );
    }
    if (header.checksumKind !== CHECKSUM_CRC32_PER_CHUNK) {
      throw new TransferProtocolError(`Unknown checksum kind ${header.checksumKind}.`);
    }
    this.#begin(header.dataSize, header.metadataSize, header.chunkBytes);
  }

  #begin(dataSize: number, metadataSize: number, chunkBytes: number): void {
    const begun: PullTarget | PlasmaError = this.#sink.begin(dataSize, metadataSize);
    if (begun instanceof Error) throw begun;
    this.#target = begun;
    this.#metadataSize = metadataSize;
    this.#chunkBytes = chunkBytes;
    this.#totalBytes = dataSize + metadataSize;
  }

  #startChunk(payloadBytes: number): void {
    this.#prefixLength = 0;
    if (this.#totalBytes < 0) throw new TransferProtocolError("The source sent a CHUNK before its HEADER.");
    const offset = this.#prefixView.getBigUint64(5, true);
    const length = payloadBytes - CHUNK_HEADER_BYTES;
    const expected = Math.min(this.#chunkBytes, this.#totalBytes - this.#nextOffset);
    if (offset !== BigInt(this.#nextOffset)) {
      throw new TransferProtocolError(
        `The source sent a chunk at offset ${offset}; the next one is at ${this.#nextOffset} of ${this.#totalBytes}.`,
      );
    }
    if (length !== expected || expected === 0) {
      throw new TransferProtocolError(
        `The source sent a chunk of ${length} bytes at offset ${offset}; it must be ${expected} (object of ${this.#totalBytes} bytes).`,
      );
    }
    this.#bodyRemaining = length;
    this.#bodyCrc = 0;
    this.#bodyExpectedCrc = this.#prefixView.getUint32(13, true);
  }

  #consumeBody(data: Uint8Array, at: number): number {
    const n = Math.min(this.#bodyRemaining, data.length - at);
    const piece = data.subarray(at, at + n);
    this.#bodyCrc = Bun.hash.crc32(piece, this.#bodyCrc);
    (this.#target as PullTarget).write(this.#nextOffset, piece);
    this.#nextOffset += n;
    this.#bodyRemaining -= n;
    if (this.#bodyRemaining === 0) {
      if (this.#bodyCrc !== this.#bodyExpectedCrc) {
        throw new TransferChecksumError(
          `The chunk ending at offset ${this.#nextOffset} does not match its checksum (crc32 ${this.#bodyCrc.toString(16)}, the source said ${this.#bodyExpectedCrc.toString(16)}).`,
        );
      }
      this.#verifiedChunks++;
    }
    return at + n;
  }
}
