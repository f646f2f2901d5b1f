/** TransferServer: the store-to-store transfer service, serving sealed objects from a TransferSource. */
import type { Socket, TCPSocketListener } from "bun";
import { type Logger, silentLogger } from "../../log.ts";
import { createTokenCheck } from "./auth.ts";
import { checkTransferSecurity, formatTransferAddress, type TransferTls } from "./config.ts";
import { TransferConnectionError } from "./errors.ts";
import { ServeConnection, type ServeCounters } from "./serve-connection.ts";
import type { TransferAddress, TransferSource } from "./types.ts";
import { MAX_CHUNK_BYTES } from "./wire.ts";

/** A connection that neither sends nor takes a byte for this long is closed (its object released). */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

export interface TransferServerOptions {
  /** Default 127.0.0.1. A non-loopback host needs a token (checkTransferSecurity). */
  host?: string;
  /** 0 picks a free port; `address` has the real one. */
  port: number;
  source: TransferSource;
  /** Every caller must send it (--cluster-token); none: every caller is served (loopback only). */
  token?: string | undefined;
  tls?: TransferTls | null | undefined;
  /** Chunks are at most this large, whatever a puller asks for (default 64 MiB, the protocol's limit). */
  maxChunkBytes?: number;
  idleTimeoutMs?: number;
  logger?: Logger;
}

export type TransferServerStats = Readonly<ServeCounters>;

export class TransferServer {
  readonly #listener: TCPSocketListener<undefined>;
  /** Shared with the listener's callbacks. */
  readonly #connections: Map<Socket<undefined>, ServeConnection>;
  readonly #counters: ServeCounters;
  readonly #host: string;

  private constructor(
    listener: TCPSocketListener<undefined>,
    connections: Map<Socket<undefined>, ServeConnection>,
    counters: ServeCounters,
    host: string,
  ) {
    this.#listener = listener;
    this.#connections = connections;
    this.#counters = counters;
    this.#host = host;
  }

  /** Starts listening. Throws ClusterConfigError (non-loopback without a token) or TransferConnectionError. */
  static listen(options: TransferServerOptions): TransferServer {
    const host = options.host ?? "127.0.0.1";
    checkTransferSecurity({ host, port: options.port }, options.token);
    const counters: ServeCounters = {
      connections: 0,
      activePulls: 0,
      pullsServed: 0,
      bytesServed: 0,
      authFailures: 0,
      notFound: 0,
    };
    const context = {
      source: options.source,
      checkToken: createTokenCheck(options.token),
      maxChunkBytes: Math.min(options.maxChunkBytes ?? MAX_CHUNK_BYTES, MAX_CHUNK_BYTES),
      logger: options.logger ?? silentLogger,
      counters,
    };
    const idleTimeoutS = Math.max(1, Math.ceil((options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS) / 1000));
    const connections = new Map<Socket<undefined>, ServeConnection>();
    let listener: TCPSocketListener<undefined>;
    try {
      listener = Bun.listen<undefined>({
        hostname: host,
        port: options.port,
        ...(options.tls ? { tls: options.tls } : {}),
        socket: {
          open(socket) {
            socket.timeout(idleTimeoutS);
            connections.set(socket, new ServeConnection(socket, context));
          },
          data: (socket, data) => connections.get(socket)?.onData(data),
          drain: (socket) => connections.get(socket)?.onDrain(),
          close(socket) {
            connections.get(socket)?.onClose();
            connections.delete(socket);
          },
          timeout: (socket) => socket.terminate(),
          error: (socket, error) => {
            context.logger.debug({ err: error }, "transfer connection error");
            socket.terminate();
          },
        },
      });
    } catch (error) {
      throw new TransferConnectionError(
        `The transfer service cannot listen on ${formatTransferAddress({ host, port: options.port })}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    return new TransferServer(listener, connections, counters, host);
  }

  get address(): TransferAddress {
    return { host: this.#host, port: this.#listener.port };
  }

  stats(): TransferServerStats {
    return { ...this.#counters };
  }

  /** Stops listening and closes every connection (releasing the objects being served). */
  stop(): void {
    this.#listener.stop(true);
    for (const socket of [...this.#connections.keys()]) socket.terminate();
  }
}
