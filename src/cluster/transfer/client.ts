/**
 * pullObject: dials a store's transfer service and streams one object straight into a sink, several
 * chunks in flight, with stall detection and an overall deadline. Nothing is committed before every chunk
 * arrived and matched its checksum; on any failure the sink's target is aborted.
 */
import type { Socket } from "bun";
import { type Logger, silentLogger } from "../../log.ts";
import type { ObjectID } from "../../protocol/object-id.ts";
import { parseTransferAddress, type TransferClientTls } from "./config.ts";
import {
  ClusterConfigError,
  TransferConnectionError,
  TransferStalledError,
  TransferTimeoutError,
} from "./errors.ts";
import { PullReceiver } from "./receiver.ts";
import type { PullSink, TransferAddress } from "./types.ts";
import {
  encodeAck,
  encodeHello,
  encodePull,
  MAX_CHUNK_BYTES,
  MAX_WINDOW_CHUNKS,
  MIN_CHUNK_BYTES,
} from "./wire.ts";

/** 1 MiB chunks: two of Bun's 512 KiB socket reads each, few enough frames for 1 GiB (1024). */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;
/** 8 chunks (8 MiB) in flight: enough to keep a loopback or LAN pipe full, small enough to stay in cache. */
export const DEFAULT_WINDOW_CHUNKS = 8;
export const DEFAULT_STALL_TIMEOUT_MS = 10_000;

export interface PullOptions {
  /** Bytes per chunk the source sends (default 1 MiB; 1 KiB to 64 MiB). */
  chunkBytes?: number;
  /** Chunks the source may send ahead of the acknowledgements (default 8; 1 to 1024). */
  windowChunks?: number;
  /** Abort with TransferStalledError when no byte arrived for this long (default 10 s; connecting counts). */
  stallTimeoutMs?: number;
  /** Abort with TransferTimeoutError when the whole pull takes longer (default: no deadline). */
  timeoutMs?: number;
  /** Refuse (TransferProtocolError) an object announced larger than this (default: no limit). */
  maxObjectBytes?: number;
  /** Dial with TLS, trusting this CA (and presenting this certificate). */
  tls?: TransferClientTls | undefined;
  logger?: Logger;
}

export type PullResult =
  | { status: "pulled"; dataSize: number; metadataSize: number; elapsedMs: number }
  | { status: "not-available"; message: string };

interface ResolvedPullOptions {
  chunkBytes: number;
  windowChunks: number;
  stallTimeoutMs: number;
  timeoutMs: number;
  maxObjectBytes: number;
}

function resolveOptions(options: PullOptions): ResolvedPullOptions {
  const resolved = {
    chunkBytes: options.chunkBytes ?? DEFAULT_CHUNK_BYTES,
    windowChunks: options.windowChunks ?? DEFAULT_WINDOW_CHUNKS,
    stallTimeoutMs: options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
    timeoutMs: options.timeoutMs ?? Number.POSITIVE_INFINITY,
    maxObjectBytes: options.maxObjectBytes ?? Number.MAX_SAFE_INTEGER,
  };
  const inRange = (value: number, low: number, high: number) =>
    Number.isInteger(value) && value >= low && value <= high;
  if (!inRange(resolved.chunkBytes, MIN_CHUNK_BYTES, MAX_CHUNK_BYTES)) {
    throw new ClusterConfigError(
      `chunkBytes must be an integer from ${MIN_CHUNK_BYTES} to ${MAX_CHUNK_BYTES}.`,
    );
  }
  if (!inRange(resolved.windowChunks, 1, MAX_WINDOW_CHUNKS)) {
    throw new ClusterConfigError(`windowChunks must be an integer from 1 to ${MAX_WINDOW_CHUNKS}.`);
  }
  if (!(resolved.stallTimeoutMs > 0) || !(resolved.timeoutMs > 0)) {
    throw new ClusterConfigError("stallTimeoutMs and timeoutMs must be positive.");
  }
  return resolved;
}

/**
 * Pulls object `id` from the transfer service at `address` into `sink`. Resolves "pulled" once the
 * target is committed, "not-available" when the source has no sealed object with that id (the sink is
 * not touched); rejects with a typed error otherwise (ClusterAuthError, TransferStalledError,
 * TransferTimeoutError, TransferChecksumError, TransferProtocolError, TransferConnectionError,
 * TransferFailedError, or whatever the sink's begin() refused with), after aborting the target.
 */
export function pullObject(
  address: TransferAddress | string,
  token: string | undefined,
  id: ObjectID,
  sink: PullSink,
  options: PullOptions = {},
): Promise<PullResult> {
  const resolved = resolveOptions(options);
  const target = typeof address === "string" ? parseTransferAddress(address, "address") : address;
  return new Promise((resolve, reject) => {
    const session = new PullSession(sink, resolved, options.logger ?? silentLogger, resolve, reject);
    const hello = encodeHello(token ?? "");
    const pull = encodePull(id.bytes, resolved.chunkBytes, resolved.windowChunks);
    const opening = new Uint8Array(hello.length + pull.length);
    opening.set(hello);
    opening.set(pull, hello.length);
    session.connect(target, options.tls, opening);
  });
}

class PullSession {
  readonly #receiver: PullReceiver;
  readonly #options: ResolvedPullOptions;
  readonly #logger: Logger;
  readonly #resolve: (result: PullResult) => void;
  readonly #reject: (error: Error) => void;
  readonly #startMs = performance.now();
  #lastProgressMs = performance.now();
  #socket: Socket<undefined> | null = null;
  #pendingOut: Uint8Array | null = null;
  #settled = false;
  #stallTimer: ReturnType<typeof setInterval> | null = null;
  #deadlineTimer: ReturnType<typeof setTimeout> | null = null;
  #peer = "";

  constructor(
    sink: PullSink,
    options: ResolvedPullOptions,
    logger: Logger,
    resolve: (result: PullResult) => void,
    reject: (error: Error) => void,
  ) {
    this.#receiver = new PullReceiver(sink, options.chunkBytes, options.maxObjectBytes);
    this.#options = options;
    this.#logger = logger;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  connect(address: TransferAddress, tls: TransferClientTls | undefined, opening: Uint8Array): void {
    this.#peer = `${address.host}:${address.port}`;
    this.#startTimers();
    const session = this;
    Bun.connect({
      hostname: address.host,
      port: address.port,
      ...(tls === undefined ? {} : { tls: { ...tls, rejectUnauthorized: true } }),
      socket: {
        open(socket) {
          session.#socket = socket;
          if (session.#settled) socket.terminate();
          else session.#write(opening);
        },
        handshake: (_socket, success, authorizationError) => {
          if (!success || authorizationError !== null) {
            const reason = authorizationError?.message ?? "handshake failed";
            session.#onClosed(new Error(`TLS: ${reason}`));
          }
        },
        data: (_socket, data) => session.#onData(data),
        drain: () => session.#flush(),
        end: () => session.#onClosed(null),
        close: (_socket, error) => session.#onClosed(error ?? null),
        error: (_socket, error) => session.#onClosed(error),
        connectError: (_socket, error) => session.#onClosed(error),
      },
    }).catch((error: Error) => this.#onClosed(error));
  }

  #startTimers(): void {
    const { stallTimeoutMs, timeoutMs } = this.#options;
    const checkEveryMs = Math.min(1000, Math.max(5, stallTimeoutMs / 4));
    this.#stallTimer = setInterval(() => {
      const idleMs = performance.now() - this.#lastProgressMs;
      if (idleMs < stallTimeoutMs) return;
      this.#fail(
        new TransferStalledError(
          `No byte arrived from ${this.#peer} for ${Math.round(idleMs)} ms (stallTimeoutMs ${stallTimeoutMs}; ${this.#progress()}).`,
        ),
      );
    }, checkEveryMs);
    if (Number.isFinite(timeoutMs)) {
      this.#deadlineTimer = setTimeout(() => {
        this.#fail(
          new TransferTimeoutError(
            `The pull from ${this.#peer} took over ${timeoutMs} ms (${this.#progress()}).`,
          ),
        );
      }, timeoutMs);
    }
  }

  #progress(): string {
    const total = this.#receiver.totalBytes;
    return total < 0
      ? "before the object's header"
      : `after ${this.#receiver.receivedBytes} of ${total} bytes`;
  }

  #onData(data: Uint8Array): void {
    if (this.#settled) return;
    this.#lastProgressMs = performance.now();
    let status: ReturnType<PullReceiver["push"]>;
    try {
      status = this.#receiver.push(data);
    } catch (error) {
      this.#fail(error as Error);
      return;
    }
    if (status === "more") {
      const credit = this.#receiver.takeVerifiedChunks();
      if (credit > 0) this.#write(encodeAck(credit));
    } else if (status === "not-available") {
      this.#finish({ status: "not-available", message: this.#receiver.notAvailableMessage });
    } else {
      void this.#complete();
    }
  }

  async #complete(): Promise<void> {
    this.#settle();
    try {
      await this.#receiver.commit();
    } catch (error) {
      this.#reject(error as Error);
      return;
    }
    const elapsedMs = performance.now() - this.#startMs;
    const { dataSize, metadataSize } = this.#receiver;
    this.#logger.debug({ peer: this.#peer, dataSize, metadataSize, elapsedMs }, "pulled object");
    this.#resolve({ status: "pulled", dataSize, metadataSize, elapsedMs });
  }

  #finish(result: PullResult): void {
    this.#settle();
    this.#resolve(result);
  }

  #onClosed(error: Error | null): void {
    if (this.#settled) return;
    const why = error === null ? "closed the connection" : `failed: ${error.message}`;
    this.#fail(
      new TransferConnectionError(`The transfer from ${this.#peer} ${why} (${this.#progress()}).`, {
        cause: error ?? undefined,
      }),
    );
  }

  #fail(error: Error): void {
    if (this.#settled) return;
    this.#settle();
    try {
      this.#receiver.abort();
    } catch (abortError) {
      this.#logger.warn({ err: abortError, peer: this.#peer }, "aborting a failed pull's target threw");
    }
    this.#logger.debug({ err: error, peer: this.#peer }, "pull failed");
    this.#reject(error);
  }

  /** Stops the timers and closes the connection; later socket events are ignored. */
  #settle(): void {
    this.#settled = true;
    if (this.#stallTimer !== null) clearInterval(this.#stallTimer);
    if (this.#deadlineTimer !== null) clearTimeout(this.#deadlineTimer);
    this.#socket?.terminate();
  }

  #write(bytes: Uint8Array): void {
    const socket = this.#socket;
    if (socket === null) return;
    if (this.#pendingOut !== null) {
      const joined = new Uint8Array(this.#pendingOut.length + bytes.length);
      joined.set(this.#pendingOut);
      joined.set(bytes, this.#pendingOut.length);
      this.#pendingOut = joined;
      return;
    }
    const written = socket.write(bytes);
    if (written < bytes.length) this.#pendingOut = bytes.slice(Math.max(0, written));
  }

  #flush(): void {
    const pending = this.#pendingOut;
    if (pending === null) return;
    this.#pendingOut = null;
    this.#write(pending);
  }
}
