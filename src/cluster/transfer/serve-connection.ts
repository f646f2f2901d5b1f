/**
 * One puller's connection on the serving side: HELLO (token), PULL (id, chunk size, window), then the
 * object's chunks, as many ahead of the acknowledgements as the window allows, each read from the source
 * into one reused frame buffer. The object is released exactly once, however the connection ends.
 */
import type { Socket } from "bun";
import type { Logger } from "../../log.ts";
import { OBJECT_ID_BYTES, ObjectID } from "../../protocol/object-id.ts";
import type { TokenCheck } from "./auth.ts";
import { ControlFrameReader } from "./control-reader.ts";
import type { TransferObject, TransferSource } from "./types.ts";
import {
  ACK_PAYLOAD_BYTES,
  CHECKSUM_CRC32_PER_CHUNK,
  CHUNK_HEADER_BYTES,
  encodeError,
  encodeHeader,
  FRAME_HEADER_BYTES,
  FrameType,
  HELLO_FIXED_BYTES,
  MAX_CHUNK_BYTES,
  MAX_WINDOW_CHUNKS,
  MIN_CHUNK_BYTES,
  PROTOCOL_MAGIC,
  PROTOCOL_VERSION,
  PULL_PAYLOAD_BYTES,
  WireError,
  writeChunkHeader,
} from "./wire.ts";

export interface ServeCounters {
  connections: number;
  activePulls: number;
  pullsServed: number;
  bytesServed: number;
  authFailures: number;
  notFound: number;
}

export interface ServeContext {
  source: TransferSource;
  checkToken: TokenCheck;
  maxChunkBytes: number;
  logger: Logger;
  counters: ServeCounters;
}

type Phase = "hello" | "pull" | "opening" | "streaming" | "ended";
const PREFIX_BYTES = FRAME_HEADER_BYTES + CHUNK_HEADER_BYTES;

export class ServeConnection {
  readonly #socket: Socket<undefined>;
  readonly #context: ServeContext;
  readonly #reader = new ControlFrameReader((type, payload) => this.#onFrame(type, payload));
  #phase: Phase = "hello";
  #object: TransferObject | null = null;
  #totalBytes = 0;
  #nextOffset = 0;
  #chunkBytes = 0;
  #windowChunks = 0;
  #credits = 0;
  #frame = new Uint8Array(0);
  #frameView = new DataView(this.#frame.buffer);
  #pending: Uint8Array | null = null;

  constructor(socket: Socket<undefined>, context: ServeContext) {
    this.#socket = socket;
    this.#context = context;
    context.counters.connections++;
  }

  onData(data: Uint8Array): void {
    if (this.#phase === "ended") return;
    try {
      this.#reader.push(data);
    } catch (error) {
      this.#refuse(WireError.BAD_REQUEST, (error as Error).message);
    }
  }

  onDrain(): void {
    if (this.#phase === "streaming") this.#pump();
  }

  onClose(): void {
    if (this.#phase === "streaming") {
      this.#context.logger.debug(
        { sentBytes: this.#nextOffset, totalBytes: this.#totalBytes },
        "puller left mid-pull",
      );
    }
    this.#phase = "ended";
    this.#release();
    this.#context.counters.connections--;
  }

  #onFrame(type: number, payload: Uint8Array): void {
    if (this.#phase === "ended") return;
    if (type === FrameType.HELLO && this.#phase === "hello") this.#onHello(payload);
    else if (type === FrameType.PULL && this.#phase === "pull") this.#onPull(payload);
    else if (type === FrameType.ACK && this.#phase === "streaming") this.#onAck(payload);
    else this.#refuse(WireError.BAD_REQUEST, `Unexpected frame of type ${type} (${this.#phase}).`);
  }

  #onHello(payload: Uint8Array): void {
    const view = new DataView(payload.buffer, payload.byteOffset, payload.length);
    if (payload.length < HELLO_FIXED_BYTES || view.getUint32(0, true) !== PROTOCOL_MAGIC) {
      this.#refuse(WireError.BAD_REQUEST, "This is a bun-plasma transfer service; the HELLO is malformed.");
      return;
    }
    const version = view.getUint16(4, true);
    if (version !== PROTOCOL_VERSION) {
      this.#refuse(
        WireError.VERSION,
        `Transfer protocol version ${version} is not served (this store speaks ${PROTOCOL_VERSION}).`,
      );
      return;
    }
    const tokenBytes = view.getUint16(6, true);
    if (tokenBytes !== payload.length - HELLO_FIXED_BYTES) {
      this.#refuse(WireError.BAD_REQUEST, "The HELLO's token length does not match its frame.");
      return;
    }
    const verdict = this.#context.checkToken(payload.subarray(HELLO_FIXED_BYTES));
    if (verdict !== "ok") {
      this.#context.counters.authFailures++;
      this.#context.logger.warn(
        { peer: this.#socket.remoteAddress, reason: `${verdict} token` },
        "refused a pull",
      );
      const message =
        verdict === "missing"
          ? "this store's transfer service needs a token: set --cluster-token to the cluster's token."
          : "the cluster token is wrong: every store of a cluster must use the same --cluster-token.";
      this.#refuse(WireError.AUTH, message);
      return;
    }
    this.#phase = "pull";
  }

  #onPull(payload: Uint8Array): void {
    if (payload.length !== PULL_PAYLOAD_BYTES) {
      this.#refuse(WireError.BAD_REQUEST, `A PULL is ${PULL_PAYLOAD_BYTES} bytes, got ${payload.length}.`);
      return;
    }
    const view = new DataView(payload.buffer, payload.byteOffset, payload.length);
    const chunkBytes = view.getUint32(OBJECT_ID_BYTES, true);
    const windowChunks = view.getUint32(OBJECT_ID_BYTES + 4, true);
    if (
      chunkBytes < MIN_CHUNK_BYTES ||
      chunkBytes > MAX_CHUNK_BYTES ||
      windowChunks < 1 ||
      windowChunks > MAX_WINDOW_CHUNKS
    ) {
      this.#refuse(
        WireError.BAD_REQUEST,
        `chunkBytes ${chunkBytes} or windowChunks ${windowChunks} out of range.`,
      );
      return;
    }
    const id = new ObjectID(payload.subarray(0, OBJECT_ID_BYTES));
    let opened: ReturnType<TransferSource["open"]>;
    try {
      opened = this.#context.source.open(id);
    } catch (error) {
      this.#refuse(WireError.SOURCE_FAILED, `opening ${id.hex()} failed: ${(error as Error).message}`);
      return;
    }
    const chunk = Math.min(chunkBytes, this.#context.maxChunkBytes);
    if (!(opened instanceof Promise)) {
      this.#opened(id, opened, chunk, windowChunks);
      return;
    }
    this.#phase = "opening";
    opened.then(
      (object) => this.#opened(id, object, chunk, windowChunks),
      (error: Error) => {
        if (this.#phase !== "opening") return;
        this.#refuse(WireError.SOURCE_FAILED, `opening ${id.hex()} failed: ${error.message}`);
      },
    );
  }

  /** The source's answer to open(); a connection that ended while it opened gives the object back. */
  #opened(id: ObjectID, object: TransferObject | null, chunkBytes: number, windowChunks: number): void {
    if (this.#phase === "ended") {
      object?.release();
      return;
    }
    if (object === null) {
      this.#context.counters.notFound++;
      this.#refuse(WireError.NOT_FOUND, `object ${id.hex()} is not sealed on this store`);
      return;
    }
    this.#start(object, chunkBytes, windowChunks);
  }

  #start(object: TransferObject, chunkBytes: number, windowChunks: number): void {
    this.#object = object;
    this.#context.counters.activePulls++;
    this.#totalBytes = object.dataSize + object.metadataSize;
    this.#chunkBytes = chunkBytes;
    this.#windowChunks = windowChunks;
    this.#credits = windowChunks;
    this.#frame = new Uint8Array(PREFIX_BYTES + Math.min(chunkBytes, this.#totalBytes));
    this.#frameView = new DataView(this.#frame.buffer);
    this.#phase = "streaming";
    const { dataSize, metadataSize } = object;
    this.#pending = encodeHeader({
      dataSize,
      metadataSize,
      chunkBytes,
      checksumKind: CHECKSUM_CRC32_PER_CHUNK,
    });
    this.#pump();
  }

  #onAck(payload: Uint8Array): void {
    if (payload.length !== ACK_PAYLOAD_BYTES) {
      this.#refuse(WireError.BAD_REQUEST, `An ACK is ${ACK_PAYLOAD_BYTES} bytes, got ${payload.length}.`);
      return;
    }
    const chunks = new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0, true);
    this.#credits = Math.min(this.#windowChunks, this.#credits + chunks);
    this.#pump();
  }

  /** Writes what is pending, then further chunks while the window has credit and the socket takes them. */
  #pump(): void {
    const object = this.#object as TransferObject;
    for (;;) {
      if (this.#pending !== null) {
        const written = this.#socket.write(this.#pending);
        if (written < this.#pending.length) {
          if (written > 0) this.#pending = this.#pending.subarray(written);
          return;
        }
        this.#pending = null;
      }
      if (this.#nextOffset >= this.#totalBytes) {
        this.#finish();
        return;
      }
      if (this.#credits === 0) return;
      const length = Math.min(this.#chunkBytes, this.#totalBytes - this.#nextOffset);
      const body = this.#frame.subarray(PREFIX_BYTES, PREFIX_BYTES + length);
      try {
        object.read(this.#nextOffset, body);
      } catch (error) {
        this.#refuse(
          WireError.SOURCE_FAILED,
          `reading at offset ${this.#nextOffset} failed: ${(error as Error).message}`,
        );
        return;
      }
      writeChunkHeader(this.#frameView, this.#nextOffset, length, Bun.hash.crc32(body));
      this.#pending = this.#frame.subarray(0, PREFIX_BYTES + length);
      this.#nextOffset += length;
      this.#credits--;
      this.#context.counters.bytesServed += length;
    }
  }

  /**
   * Only the sending side is shut down (FIN): the puller closes the connection once it has committed. A
   * full close here, with the puller's last ACKs unread, would make the kernel answer with a reset that
   * discards the chunks still in flight to the puller.
   */
  #finish(): void {
    this.#context.counters.pullsServed++;
    this.#phase = "ended";
    this.#release();
    this.#socket.shutdown();
  }

  /**
   * Sends an ERROR frame and closes; releases the object if one was open. In the middle of a chunk frame
   * the error cannot be framed, so the connection just closes (the puller reports it closed early).
   */
  #refuse(code: number, message: string): void {
    this.#context.logger.debug({ code, message }, "transfer refused");
    this.#phase = "ended";
    this.#release();
    if (this.#pending === null) this.#socket.write(encodeError(code, message));
    this.#pending = null;
    this.#socket.shutdown();
  }

  #release(): void {
    const object = this.#object;
    if (object === null) return;
    this.#object = null;
    this.#context.counters.activePulls--;
    try {
      object.release();
    } catch (error) {
      this.#context.logger.warn({ err: error }, "releasing a served object threw");
    }
  }
}
