import type { Socket, SocketHandler, UnixSocketOptions } from "bun";
import { closeFd, connectUnix, recvFds, SystemError } from "../ffi/index.ts";
import type { Logger } from "../log.ts";
import { ByteReader, ByteWriter } from "../protocol/bytes.ts";
import {
  BATCH_PREFIX_BYTES,
  BatchCodec,
  decodeWelcomeFrame,
  ErrorReplyCodec,
  HelloCodec,
  MAX_ADVISED_POLL_US,
  MessageType,
  messageName,
  PollAdviceCodec,
  type Welcome,
} from "../protocol/codecs/index.ts";
import { PlasmaConnectionError, type PlasmaError, ProtocolError } from "../protocol/errors.ts";
import { FLAG_ERROR, FLAG_MORE, FLAG_REPLY, FrameReader } from "../protocol/frame.ts";
import { FRAME_HEADER_BYTES, PROTOCOL_VERSION } from "../protocol/limits.ts";
import { EventLoopPoller } from "../runtime/event-loop-poller.ts";

/** How long the handshake may take before connect gives up. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Largest welcome frame accepted. */
const MAX_WELCOME_BYTES = 64 * 1024;
/** Descriptors a Welcome carries at most: arena, directory, pin table. */
const MAX_WELCOME_FDS = 3;

/** The shared directory's descriptors from the Welcome (docs/shared-directory.md); the client owns them. */
export interface DirectoryFds {
  readonly directoryFd: number;
  readonly pinTableFd: number;
}

export interface PendingRequest {
  readonly type: number;
  resolve(body: ByteReader): void;
  reject(error: Error): void;
  /** For a reply in several frames (requestParts): each frame but the last (FLAG_MORE). */
  readonly part?: (body: ByteReader) => void;
}

/** Called for notification frames (subscriptions), keyed by the subscribe request id. */
export type StreamHandler = (body: ByteReader) => void;

/**
 * Longest polling window this client accepts from the store's PollAdvice (µs): PLASMA_CLIENT_POLL_US
 * (0 turns polling off), else whatever the store advises.
 */
function clientPollCapUs(): number {
  const fromEnv = process.env.PLASMA_CLIENT_POLL_US;
  if (fromEnv === undefined || fromEnv === "") return MAX_ADVISED_POLL_US;
  const us = Number(fromEnv);
  return Number.isFinite(us) && us >= 0 ? Math.min(us, MAX_ADVISED_POLL_US) : MAX_ADVISED_POLL_US;
}

/**
 * One connection to a store: handshake (arena fd over SCM_RIGHTS), then pipelined request/response frames
 * through Bun's event loop. Requests written in one tick go out in one write, as one Batch frame when
 * there are several (the store serves them in one pass and answers those it can in one Batch reply).
 */
export class Connection {
  readonly welcome: Welcome;
  readonly arenaFd: number;
  /** Null when the store publishes no directory (every read then asks the store). */
  readonly directoryFds: DirectoryFds | null;
  readonly socketPath: string;
  readonly #pending = new Map<number, PendingRequest>();
  readonly #streams = new Map<number, StreamHandler>();
  /** Frames of this tick, after BATCH_PREFIX_BYTES kept free for the Batch header (see #flush). */
  readonly #out = new ByteWriter(64 * 1024);
  readonly #log: Logger;
  #socket: Socket<undefined> | null = null;
  #backlog: Uint8Array[] = [];
  #flushScheduled = false;
  #lazyFlushScheduled = false;
  #nextRequestId = 1;
  #closedError: PlasmaConnectionError | null = null;
  #onClose: ((error: PlasmaConnectionError) => void) | null = null;
  #beforeRequest: (() => void) | null = null;
  /** True while a request is being encoded: frames sent meanwhile go out with it. */
  #encoding = false;
  /** µs to keep the event loop turning while a reply is awaited (the store's PollAdvice, capped). */
  #pollUs = 0;
  readonly #pollCapUs = clientPollCapUs();
  /** Polls while a reply is awaited (see #encode). */
  readonly #poller = new EventLoopPoller(() => this.#pending.size > 0);

  private constructor(socketPath: string, welcome: Welcome, fds: readonly number[], log: Logger) {
    this.socketPath = socketPath;
    this.welcome = welcome;
    this.arenaFd = fds[0] as number;
    this.directoryFds =
      fds.length === MAX_WELCOME_FDS ? { directoryFd: fds[1] as number, pinTableFd: fds[2] as number } : null;
    this.#log = log;
    this.#out.skip(BATCH_PREFIX_BYTES);
  }

  /** Connects, receives the arena fd and the welcome, adopts the socket into Bun and says hello. */
  static async open(socketPath: string, log: Logger): Promise<Connection> {
    let fd: number;
    try {
      fd = connectUnix(socketPath);
    } catch (error) {
      const reason = error instanceof SystemError ? `${error.errnoName} (${error.message})` : String(error);
      throw new PlasmaConnectionError(
        `Could not connect to socket ${socketPath}: ${reason}. Check that plasma_store is running (plasma_store -m 1000000000 -s ${socketPath}).`,
        { cause: error },
      );
    }
    let fds: number[] = [];
    try {
      const message = recvFds(fd, MAX_WELCOME_BYTES, HANDSHAKE_TIMEOUT_MS, MAX_WELCOME_FDS);
      fds = message.fds;
      const welcome = parseWelcome(message.payload, socketPath);
      if (welcome instanceof Error) throw welcome;
      if (fds.length === 0) throw new ProtocolError(`The store at ${socketPath} sent no arena descriptor.`);
      // Directory descriptors without the flag (or the flag without them) are not used.
      if (fds.length !== (welcome.directory === true ? MAX_WELCOME_FDS : 1)) {
        for (const extra of fds.splice(1)) closeFd(extra);
      }
      const connection = new Connection(socketPath, welcome, fds, log);
      await connection.#adopt(fd);
      await connection.#hello();
      return connection;
    } catch (error) {
      for (const received of fds) closeFd(received);
      try {
        closeFd(fd);
      } catch {
        // Bun owns it already and closed it.
      }
      if (error instanceof SystemError) {
        throw new PlasmaConnectionError(
          `Handshake with plasma_store at ${socketPath} failed: ${error.message}.`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  /** µs this connection polls while it waits for a reply (0: it sleeps at once). */
  get pollWindowUs(): number {
    return this.#pollUs;
  }

  get closed(): boolean {
    return this.#closedError !== null;
  }

  /** Called before each request is encoded, to put frames that must precede it (releases) first. */
  beforeRequest(hook: () => void): void {
    this.#beforeRequest = hook;
  }

  onClose(handler: (error: PlasmaConnectionError) => void): void {
    this.#onClose = handler;
  }

  /**
   * Allocates a request id, lets `encode` write the frame, and resolves with the reply body. `arg` is
   * passed on to `encode`, so hot callers can pass a module-level function instead of a new closure.
   */
  request<T = undefined>(
    type: number,
    encode: (out: ByteWriter, requestId: number, arg: T) => void,
    arg?: T,
  ): Promise<ByteReader> {
    if (this.#closedError !== null) return Promise.reject(this.#closedError);
    const requestId = this.#allocateRequestId();
    const { promise, resolve, reject } = Promise.withResolvers<ByteReader>();
    this.#pending.set(requestId, { type, resolve, reject });
    this.#encode(requestId, encode, arg as T, reject);
    return promise;
  }

  /**
   * A frame that expects no reply (release); errors come back with request id 0 and are logged. It is
   * not written at once: it rides along with the next request of this tick, or goes out on its own at the
   * end of the tick. A get right after a release then costs the store one wake-up, not two.
   */
  send(encode: (out: ByteWriter) => void): void {
    if (this.#closedError !== null) throw this.#closedError;
    encode(this.#out);
    if (this.#flushScheduled || this.#lazyFlushScheduled || this.#encoding) return;
    this.#lazyFlushScheduled = true;
    setImmediate(() => {
      this.#lazyFlushScheduled = false;
      this.#flush();
    });
  }

  /**
   * Like request, for a reply that may come in several frames: each frame but the last (FLAG_MORE) goes
   * to `onPart` as it arrives (it is valid only during the call); the promise resolves with the last one.
   * If `onPart` throws, the request fails with that error and the rest of its reply is ignored.
   */
  requestParts(
    type: number,
    encode: (out: ByteWriter, requestId: number) => void,
    onPart: (body: ByteReader) => void,
  ): Promise<ByteReader> {
    if (this.#closedError !== null) return Promise.reject(this.#closedError);
    const requestId = this.#allocateRequestId();
    const { promise, resolve, reject } = Promise.withResolvers<ByteReader>();
    this.#pending.set(requestId, { type, resolve, reject, part: onPart });
    this.#encode(requestId, encode, undefined, reject);
    return promise;
  }

  /** Like request, and routes later frames with the same request id to `onStream`. */
  requestStream(
    type: number,
    encode: (out: ByteWriter, requestId: number) => void,
    onStream: StreamHandler,
  ): Promise<ByteReader> {
    if (this.#closedError !== null) return Promise.reject(this.#closedError);
    const requestId = this.#allocateRequestId();
    this.#streams.set(requestId, onStream);
    return new Promise<ByteReader>((resolve, reject) => {
      this.#pending.set(requestId, {
        type,
        resolve,
        reject: (error) => {
          this.#streams.delete(requestId);
          reject(error);
        },
      });
      this.#encode(requestId, encode, undefined, reject);
    });
  }

  /** Closes the socket; pending requests fail with PlasmaConnectionError. */
  close(): void {
    this.#fail(new PlasmaConnectionError(`Disconnected from plasma_store at ${this.socketPath}.`));
    this.#socket?.end();
  }

  // ------------------------------------------------------------------ internals

  #allocateRequestId(): number {
    const id = this.#nextRequestId;
    this.#nextRequestId = id >= 0xfffffffe ? 1 : id + 1;
    return id;
  }

  #encode<T>(
    requestId: number,
    encode: (out: ByteWriter, requestId: number, arg: T) => void,
    arg: T,
    reject: (e: Error) => void,
  ): void {
    this.#encoding = true;
    let mark = 0;
    try {
      this.#beforeRequest?.();
      mark = this.#out.length;
      encode(this.#out, requestId, arg);
    } catch (error) {
      this.#out.length = mark;
      this.#pending.delete(requestId);
      this.#encoding = false;
      if (this.#out.length > BATCH_PREFIX_BYTES) this.#scheduleFlush();
      reject(error as Error);
      return;
    }
    this.#encoding = false;
    // Every request goes out at the end of this turn of the event loop (a microtask), with the others of
    // the same turn: one write, one Batch frame when there are several.
    this.#scheduleFlush();
    // While the reply is awaited, poll for up to the store's advised window: the reply then finds this
    // process awake. The store advises it only while there are fewer clients than CPUs, so polling never
    // takes a CPU the store needs.
    this.#poller.poll(this.#pollUs);
  }

  async #adopt(fd: number): Promise<void> {
    const reader = new FrameReader((type, flags, requestId, body, view) =>
      this.#frame(type, flags, requestId, body, view),
    );
    const handler: SocketHandler<undefined> = {
      data: (_socket, data) => {
        try {
          reader.push(data);
        } catch (error) {
          this.#log.error({ err: (error as Error).message }, "bad frame from plasma_store; closing");
          this.#fail(
            new PlasmaConnectionError(
              `plasma_store at ${this.socketPath} sent a bad frame: ${(error as Error).message}`,
            ),
          );
          this.#socket?.end();
        }
      },
      drain: () => this.#drain(),
      close: () =>
        this.#fail(new PlasmaConnectionError(`The connection to plasma_store at ${this.socketPath} closed.`)),
      error: (_socket, error) => this.#log.warn({ err: error.message }, "socket error"),
    };
    // Bun.connect adopts an already-connected descriptor given as `fd` (it works, though Bun's types only
    // know `unix`); every connect goes through here, so the client tests exercise it.
    const options = { fd, socket: handler } as unknown as UnixSocketOptions<undefined>;
    this.#socket = await Bun.connect<undefined>(options);
  }

  /** The Welcome's version was checked by its codec; the store checks the client's in Hello. */
  async #hello(): Promise<void> {
    const pending = this.request(MessageType.Hello, HelloCodec.encodeRequest, {
      version: PROTOCOL_VERSION,
      pid: process.pid,
    });
    HelloCodec.decodeReply(await pending);
  }

  #frame(type: number, flags: number, requestId: number, body: Uint8Array, view: DataView): void {
    if (type === MessageType.Batch) {
      this.#batch(flags, requestId, body, view);
      return;
    }
    if (requestId === 0) {
      if (type === MessageType.PollAdvice && flags === 0) {
        try {
          this.#pollUs = Math.min(PollAdviceCodec.decode(new ByteReader(body, view)), this.#pollCapUs);
        } catch (error) {
          this.#log.warn({ err: (error as Error).message }, "ignoring a malformed PollAdvice");
        }
        return;
      }
      if ((flags & FLAG_ERROR) !== 0) {
        const error = ErrorReplyCodec.decode(new ByteReader(body, view));
        this.#log.error({ code: error.code, err: error.message }, "plasma_store reported an error");
        if (type === 0)
          this.#fail(
            new PlasmaConnectionError(`plasma_store closed the connection: ${error.message}`, {
              cause: error,
            }),
          );
      }
      return;
    }
    const stream = this.#streams.get(requestId);
    if (stream !== undefined && type === MessageType.Notification) {
      stream(new ByteReader(body, view));
      return;
    }
    const pending = this.#pending.get(requestId);
    if (pending === undefined) {
      this.#log.warn({ requestId, type: messageName(type) }, "reply to no pending request");
      return;
    }
    if ((flags & FLAG_ERROR) !== 0) {
      // Decoded before the request leaves #pending: a malformed reply fails the connection, and with it
      // this request.
      const error = ErrorReplyCodec.decode(new ByteReader(body, view));
      this.#pending.delete(requestId);
      pending.reject(error);
      return;
    }
    if ((flags & FLAG_MORE) !== 0) {
      this.#part(requestId, pending, type, new ByteReader(body, view));
      return;
    }
    this.#pending.delete(requestId);
    if (type !== pending.type) {
      pending.reject(
        new ProtocolError(`Reply of ${messageName(type)} to a ${messageName(pending.type)} request.`),
      );
      return;
    }
    pending.resolve(new ByteReader(body, view));
  }

  /** A Batch reply: its sub-frames, each handled as if it had come on its own. */
  #batch(flags: number, requestId: number, body: Uint8Array, view: DataView): void {
    if (flags !== FLAG_REPLY || requestId !== 0)
      throw new ProtocolError("A Batch from the store carries flags REPLY and request id 0.");
    BatchCodec.forEachFrame(new ByteReader(body, view), this.#subFrame);
  }

  readonly #subFrame = (type: number, flags: number, requestId: number, body: Uint8Array, view: DataView) =>
    this.#frame(type, flags, requestId, body, view);

  /** One frame of a reply in several (FLAG_MORE): to the request's part handler, which keeps it pending. */
  #part(requestId: number, pending: PendingRequest, type: number, body: ByteReader): void {
    try {
      if (pending.part === undefined || type !== pending.type) {
        throw new ProtocolError(
          `A ${messageName(type)} reply in parts to a ${messageName(pending.type)} request that takes one frame.`,
        );
      }
      pending.part(body);
    } catch (error) {
      this.#pending.delete(requestId);
      pending.reject(error as Error);
    }
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => this.#flush());
  }

  /**
   * Writes this tick's frames: as one Batch frame when there are several that may travel in one (the
   * header goes into the room kept before them), else as they are.
   */
  #flush(): void {
    this.#flushScheduled = false;
    const socket = this.#socket;
    const out = this.#out;
    if (socket === null || out.length === BATCH_PREFIX_BYTES) return;
    const count = BatchCodec.batchableCount(out.bytes, out.view, BATCH_PREFIX_BYTES, out.length);
    if (count > 0) BatchCodec.writePrefix(out, 0, 0, count, out.length - BATCH_PREFIX_BYTES);
    const bytes = out.bytes.subarray(count > 0 ? 0 : BATCH_PREFIX_BYTES, out.length);
    if (this.#backlog.length > 0) {
      this.#backlog.push(bytes.slice());
    } else {
      const written = socket.write(bytes);
      if (written < bytes.length) this.#backlog.push(bytes.slice(Math.max(written, 0)));
    }
    out.length = BATCH_PREFIX_BYTES;
  }

  #drain(): void {
    const socket = this.#socket;
    if (socket === null) return;
    while (this.#backlog.length > 0) {
      const head = this.#backlog[0] as Uint8Array;
      const written = socket.write(head);
      if (written === head.length) {
        this.#backlog.shift();
        continue;
      }
      if (written > 0) this.#backlog[0] = head.subarray(written);
      return;
    }
  }

  #fail(error: PlasmaConnectionError): void {
    if (this.#closedError !== null) return;
    this.#closedError = error;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#streams.clear();
    for (const p of pending) p.reject(error);
    this.#onClose?.(error);
  }
}

function parseWelcome(payload: Uint8Array, socketPath: string): Welcome | PlasmaError {
  if (payload.length < FRAME_HEADER_BYTES) {
    throw new PlasmaConnectionError(
      `plasma_store at ${socketPath} closed the connection during the handshake.`,
    );
  }
  try {
    return decodeWelcomeFrame(payload);
  } catch (error) {
    if (error instanceof ProtocolError)
      throw new ProtocolError(`The peer at ${socketPath}: ${error.message}`);
    throw error;
  }
}
