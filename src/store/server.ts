import { fstatSync, ftruncateSync } from "node:fs";
import { availableParallelism } from "node:os";
import type { Socket, UnixSocketListener } from "bun";
import { peerCredentials, sendBytes, sendFd, viewOf } from "../ffi/index.ts";
import type { Logger } from "../log.ts";
import { ByteReader, ByteWriter } from "../protocol/bytes.ts";
// Frames are decoded against the protocol's hard maxima (the codecs' defaults); the store's configured
// (lower) limits are checked by the core, so going past them is a LimitExceededError for that request, not
// a closed connection.
import {
  AbortCodec,
  ContainsCodec,
  CreateAndSealCodec,
  CreateCodec,
  DebugStringCodec,
  DeleteCodec,
  ErrorReplyCodec,
  EvictCodec,
  GetCodec,
  GetMetadataCodec,
  type GetReplyEntry,
  HashCodec,
  HelloCodec,
  ListCodec,
  MAX_ADVISED_POLL_US,
  MessageType,
  messageName,
  NotificationCodec,
  PollAdviceCodec,
  ReleaseCodec,
  SealCodec,
  StoreInfoCodec,
  SubscribeCodec,
  WelcomeCodec,
} from "../protocol/codecs/index.ts";
import { AccessDeniedError, PlasmaError, ProtocolError } from "../protocol/errors.ts";
import { FLAG_MORE, FLAG_REPLY, FrameReader } from "../protocol/frame.ts";
import { PROTOCOL_VERSION } from "../protocol/limits.ts";
import { objectKey } from "../protocol/object-id.ts";
import { EventLoopPoller } from "../runtime/event-loop-poller.ts";
import { debugString } from "./debug-string.ts";
import type { ObjectEntry } from "./object-table.ts";
import type { StoreCore } from "./store.ts";

/**
 * Default polling window after a reply (see #keepPolling): PLASMA_STORE_POLL_US, else 50 µs when this
 * process may run on more than one CPU, else 0 (polling on the only CPU would starve the clients on it).
 */
function defaultPollUs(): number {
  const fromEnv = process.env.PLASMA_STORE_POLL_US;
  if (fromEnv !== undefined && fromEnv !== "") {
    const us = Number(fromEnv);
    if (Number.isFinite(us) && us >= 0) return Math.min(us, 10_000);
  }
  return availableParallelism() > 1 ? 50 : 0;
}
/** Output a slow reader may leave unread before the store drops its connection. */
const MAX_PENDING_OUTPUT_BYTES = 256 * 1024 * 1024;
/** The longest view Bun makes (MAX_VIEW_BYTES, 4 GiB): the arena is viewed in windows of this size. */
const WINDOW_BYTES = 2 ** 32;

export interface ArenaMapping {
  fd: number;
  address: number;
  sizeBytes: number;
  /**
   * True when the file carries F_SEAL_SHRINK | F_SEAL_GROW (a memfd): nobody can resize it. A `-d` file
   * cannot be sealed (Linux seals only memfds), so the server checks its size before it touches the arena
   * and whenever a client leaves, and restores it if a client resized it.
   */
  sealed?: boolean;
}

export interface StoreServerOptions {
  socketPath: string;
  core: StoreCore;
  arena: ArenaMapping;
  logger: Logger;
  /** Uids allowed to connect (SO_PEERCRED); empty or absent: everyone who can open the socket. */
  allowUids?: readonly number[];
  /**
   * µs the event loop keeps polling after a reply before it may sleep (default: PLASMA_STORE_POLL_US,
   * else 50 when the process may run on more than one CPU, else 0).
   */
  pollAfterReplyUs?: number;
  /** Called with the seconds from request to reply of each create, seal and get (for the admin metrics). */
  observeLatency?: (op: "create" | "seal" | "get", seconds: number) => void;
}

interface Connection {
  clientId: number;
  pid: number;
  uid: number;
  greeted: boolean;
  closed: boolean;
  reader: FrameReader;
  /** Reused for every request body of this connection. */
  body: ByteReader;
  out: ByteWriter;
  /** Bytes written to the socket only partly, waiting for drain. */
  backlog: Uint8Array[];
  backlogBytes: number;
  flushScheduled: boolean;
}

type ConnSocket = Socket<Connection>;
type LatencyOp = "create" | "seal" | "get";
/** Serves one request: decodes the body (`r`), calls the core, writes the reply to `conn.out`. */
type Handler = (socket: ConnSocket, conn: Connection, requestId: number, r: ByteReader) => void;

const MAX_MESSAGE_TYPE = Math.max(...Object.values(MessageType));

/** The handler of a type clients do not send (replies and store-to-client messages). */
function unknownType(type: number): Handler {
  return () => {
    throw new ProtocolError(`Unknown message type ${type}.`);
  };
}

/** Bun exposes the kernel descriptor of its sockets as `.fd`, but not in its types. */
function fdOf(socket: ConnSocket): number {
  return (socket as unknown as { fd: number }).fd;
}

/** The Unix-socket edge of the store: frames in, core calls, frames out. */
export class StoreServer {
  readonly #options: StoreServerOptions;
  readonly #core: StoreCore;
  readonly #log: Logger;
  readonly #sockets = new Set<ConnSocket>();
  /** Views of the arena, one per 4 GiB window, made on first use (see #arenaView). */
  readonly #windows: Uint8Array[] = [];
  #listener: UnixSocketListener<Connection> | null = null;
  readonly #pollUs: number;
  readonly #cpus = availableParallelism();
  /** Polls after each reply while the store listens (see #keepPolling). */
  readonly #poller = new EventLoopPoller(() => this.#listener !== null);
  /** What clients are told to poll for while they wait for a reply (µs; 0 = do not poll). */
  #pollAdviceUs = 0;
  /** Latencies waiting to be reported: op, seconds, op, seconds, … */
  #observations: (LatencyOp | number)[] = [];
  /** Request handlers by message type (see #handlerTable). */
  readonly #handlers: readonly Handler[];

  constructor(options: StoreServerOptions) {
    this.#options = options;
    this.#core = options.core;
    this.#log = options.logger;
    this.#pollUs = options.pollAfterReplyUs ?? defaultPollUs();
    this.#handlers = this.#handlerTable();
  }

  /** Times a client was caught resizing an unsealed (`-d`) arena file and the size was restored. */
  arenaResizes = 0;

  get connectionCount(): number {
    return this.#sockets.size;
  }

  listen(): void {
    this.#listener = Bun.listen<Connection>({
      unix: this.#options.socketPath,
      socket: {
        open: (socket) => this.#open(socket),
        data: (socket, data) => this.#data(socket, data),
        drain: (socket) => this.#drain(socket),
        close: (socket) => this.#close(socket),
        error: (socket, error) => {
          this.#log.warn({ clientId: socket.data?.clientId, err: error.message }, "client socket error");
        },
      },
    });
  }

  /** Closes the listener and every client connection. */
  stop(): void {
    this.#listener?.stop(true);
    this.#listener = null;
    for (const socket of [...this.#sockets]) socket.end();
  }

  // ---------------------------------------------------------------- connection lifecycle

  #open(socket: ConnSocket): void {
    const conn: Connection = {
      clientId: 0,
      pid: 0,
      uid: 0,
      greeted: false,
      closed: false,
      reader: new FrameReader((type, flags, requestId, body, view) =>
        this.#frame(socket, conn, type, flags, requestId, body, view),
      ),
      body: new ByteReader(new Uint8Array(0)),
      out: new ByteWriter(),
      backlog: [],
      backlogBytes: 0,
      flushScheduled: false,
    };
    socket.data = conn;
    let cred = { pid: 0, uid: 0, gid: 0 };
    try {
      cred = peerCredentials(fdOf(socket));
    } catch (error) {
      this.#log.warn({ err: (error as Error).message }, "could not read peer credentials");
    }
    conn.pid = cred.pid;
    conn.uid = cred.uid;
    const allow = this.#options.allowUids;
    try {
      if (allow !== undefined && allow.length > 0 && !allow.includes(cred.uid)) {
        throw new AccessDeniedError(
          `uid ${cred.uid} is not allowed to use this store (--allow-uid ${allow.join(",")}); ask its operator.`,
        );
      }
      conn.clientId = this.#core.connectClient(cred).id;
    } catch (error) {
      this.#refuse(socket, conn, error);
      return;
    }
    this.#sockets.add(socket);
    this.#updatePollAdvice();
    this.#welcome(socket, conn);
  }

  /** Tells a peer the store will not serve it (no fd goes with the refusal), and hangs up. */
  #refuse(socket: ConnSocket, conn: Connection, error: unknown): void {
    const refusal = error instanceof PlasmaError ? error : new PlasmaError(String(error));
    this.#log.warn({ peerPid: conn.pid, peerUid: conn.uid, reason: refusal.message }, "client refused");
    const out = new ByteWriter(256);
    WelcomeCodec.encodeRefusal(out, refusal);
    try {
      sendBytes(fdOf(socket), out.bytes.subarray(0, out.length));
    } catch {
      // The peer is gone already.
    }
    conn.closed = true;
    socket.end();
  }

  /** Sends the Welcome with the arena's descriptor; hangs up if it cannot be sent. */
  #welcome(socket: ConnSocket, conn: Connection): void {
    const welcome = new ByteWriter(128);
    WelcomeCodec.encode(welcome, {
      version: PROTOCOL_VERSION,
      capacityBytes: this.#core.capacityBytes,
      arenaBytes: this.#options.arena.sizeBytes,
      clientId: conn.clientId,
      maxObjectBytes: this.#core.limits.maxObjectBytes,
      maxMetadataBytes: this.#core.limits.maxMetadataBytes,
      maxIdsPerRequest: this.#core.limits.maxIdsPerRequest,
    });
    try {
      sendFd(fdOf(socket), this.#options.arena.fd, welcome.bytes.subarray(0, welcome.length));
    } catch (error) {
      this.#log.warn(
        { clientId: conn.clientId, peerPid: conn.pid, err: (error as Error).message },
        "could not send the arena fd",
      );
      socket.end();
      return;
    }
    this.#log.info({ clientId: conn.clientId, peerPid: conn.pid, peerUid: conn.uid }, "client connected");
  }

  #close(socket: ConnSocket): void {
    const conn = socket.data;
    if (conn === undefined || !this.#sockets.delete(socket)) return;
    this.#updatePollAdvice();
    this.#guardArena();
    conn.closed = true;
    const client = this.#core.client(conn.clientId);
    const held = client?.objectsHeld ?? 0;
    const creating = client?.objectsCreating ?? 0;
    this.#core.disconnectClient(conn.clientId);
    this.#log.info(
      {
        clientId: conn.clientId,
        peerPid: conn.pid,
        releasedObjects: held - creating,
        abortedObjects: creating,
      },
      "client disconnected",
    );
  }

  #data(socket: ConnSocket, data: Uint8Array): void {
    const conn = socket.data;
    if (conn.closed) return;
    try {
      conn.reader.push(data);
    } catch (error) {
      this.#protocolViolation(socket, conn, error);
      return;
    }
    this.#flush(socket, conn);
    this.#keepPolling();
  }

  // ---------------------------------------------------------------- polling after a reply

  /**
   * After answering, the store keeps its event loop turning (non-blocking polls, one setImmediate after
   * another) for `pollAfterReplyUs`: a client doing requests one after another sends its next one within
   * a few tens of µs, and finding it without having gone to sleep saves the wake-up of an idle vCPU
   * (about 20 µs on a VM). Costs up to that much CPU after the last request of a burst, so it is done
   * only while there are fewer clients than CPUs: with more, the clients need every CPU (16 client
   * processes on 2 CPUs did 25% fewer gets per second with polling than without).
   */
  #keepPolling(): void {
    if (this.#pollAdviceUs > 0) this.#poller.poll(this.#pollUs);
  }

  /**
   * Clients poll too while they wait for a reply (PollAdvice): a reply then finds the client awake instead
   * of paying for its wake-up. Advised under the same condition as the store's own polling (fewer
   * clients than CPUs), for twice the store's window; every client hears when that changes.
   */
  #updatePollAdvice(): void {
    const advice =
      this.#pollUs > 0 && this.#sockets.size < this.#cpus
        ? Math.min(2 * this.#pollUs, MAX_ADVISED_POLL_US)
        : 0;
    if (advice === this.#pollAdviceUs) return;
    this.#pollAdviceUs = advice;
    for (const socket of this.#sockets) {
      const conn = socket.data;
      if (conn.closed || !conn.greeted) continue;
      PollAdviceCodec.encode(conn.out, advice);
      this.#scheduleFlush(socket, conn);
    }
  }

  #protocolViolation(socket: ConnSocket, conn: Connection, error: unknown): void {
    const err = error instanceof PlasmaError ? error : new ProtocolError(String(error));
    this.#log.warn(
      { clientId: conn.clientId, peerPid: conn.pid, err: err.message },
      "protocol violation; closing the connection",
    );
    ErrorReplyCodec.encode(conn.out, 0, 0, err);
    this.#flush(socket, conn);
    conn.closed = true;
    socket.end();
  }

  // ---------------------------------------------------------------- output

  /**
   * Records a latency for the admin metrics once the reply is out: the histogram's update (about a
   * microsecond) then does not delay the reply.
   */
  #observe(op: LatencyOp, startMs: number): void {
    if (this.#options.observeLatency === undefined) return;
    const pending = this.#observations;
    pending.push(op, (performance.now() - startMs) / 1000);
    if (pending.length === 2) queueMicrotask(() => this.#reportObservations());
  }

  #reportObservations(): void {
    const pending = this.#observations;
    const observe = this.#options.observeLatency;
    this.#observations = [];
    if (observe === undefined) return;
    for (let i = 0; i < pending.length; i += 2) observe(pending[i] as LatencyOp, pending[i + 1] as number);
  }

  #flush(socket: ConnSocket, conn: Connection): void {
    conn.flushScheduled = false;
    if (conn.out.length === 0 || (socket.data.closed && conn.out.length === 0)) return;
    const bytes = conn.out.bytes.subarray(0, conn.out.length);
    if (conn.backlog.length > 0) {
      this.#queue(socket, conn, bytes.slice());
    } else {
      const written = socket.write(bytes);
      if (written < bytes.length) this.#queue(socket, conn, bytes.slice(Math.max(written, 0)));
    }
    conn.out.reset();
  }

  #queue(socket: ConnSocket, conn: Connection, bytes: Uint8Array): void {
    conn.backlog.push(bytes);
    conn.backlogBytes += bytes.length;
    if (conn.backlogBytes > MAX_PENDING_OUTPUT_BYTES) {
      this.#log.warn(
        { clientId: conn.clientId, peerPid: conn.pid, backlogBytes: conn.backlogBytes },
        "client reads too slowly; closing",
      );
      conn.backlog = [];
      conn.backlogBytes = 0;
      socket.end();
    }
  }

  #drain(socket: ConnSocket): void {
    const conn = socket.data;
    while (conn.backlog.length > 0) {
      const head = conn.backlog[0] as Uint8Array;
      const written = socket.write(head);
      if (written === head.length) {
        conn.backlog.shift();
        conn.backlogBytes -= head.length;
        continue;
      }
      if (written > 0) {
        conn.backlog[0] = head.subarray(written);
        conn.backlogBytes -= written;
      }
      return;
    }
  }

  /** For replies produced outside a data callback (gets that waited, notifications). */
  #scheduleFlush(socket: ConnSocket, conn: Connection): void {
    if (conn.flushScheduled || conn.closed) return;
    conn.flushScheduled = true;
    queueMicrotask(() => this.#flush(socket, conn));
  }

  // ---------------------------------------------------------------- dispatch

  #frame(
    socket: ConnSocket,
    conn: Connection,
    type: number,
    flags: number,
    requestId: number,
    body: Uint8Array,
    view: DataView,
  ): void {
    if (conn.closed) return;
    if ((flags & (FLAG_REPLY | FLAG_MORE)) !== 0)
      throw new ProtocolError("Clients send requests, not replies (flags REPLY and MORE are the store's).");
    if (!conn.greeted && type !== MessageType.Hello) {
      throw new ProtocolError(`The first frame must be Hello, got ${messageName(type)}.`);
    }
    const r = conn.body.reset(body, view);
    // A handler that fails takes back what it wrote: no partial frame ever reaches the client.
    const mark = conn.out.length;
    try {
      const handler = this.#handlers[type];
      if (handler === undefined) throw new ProtocolError(`Unknown message type ${type}.`);
      handler(socket, conn, requestId, r);
    } catch (error) {
      conn.out.length = mark;
      if (error instanceof ProtocolError) throw error;
      if (!(error instanceof PlasmaError)) {
        this.#log.error({ clientId: conn.clientId, err: error }, "internal error while serving a request");
        throw new ProtocolError(`Internal store error: ${(error as Error).message}`);
      }
      ErrorReplyCodec.encode(conn.out, type, requestId, error);
    }
  }

  /** The handler of each request type, indexed by type; types a client never sends throw ProtocolError. */
  #handlerTable(): Handler[] {
    const byType: Partial<Record<number, Handler>> = {
      [MessageType.Hello]: this.#hello,
      [MessageType.Create]: this.#create,
      [MessageType.CreateAndSeal]: this.#createAndSeal,
      [MessageType.Seal]: this.#seal,
      [MessageType.Abort]: this.#abort,
      [MessageType.Get]: this.#get,
      [MessageType.GetMetadata]: this.#getMetadata,
      [MessageType.Release]: this.#release,
      [MessageType.Contains]: this.#contains,
      [MessageType.Delete]: this.#delete,
      [MessageType.Evict]: this.#evict,
      [MessageType.Hash]: this.#hash,
      [MessageType.List]: this.#list,
      [MessageType.Subscribe]: this.#subscribe,
      [MessageType.StoreInfo]: this.#storeInfo,
      [MessageType.DebugString]: this.#debugString,
    };
    const table: Handler[] = [];
    for (let type = 0; type <= MAX_MESSAGE_TYPE; type++) table.push(byType[type] ?? unknownType(type));
    return table;
  }

  readonly #hello: Handler = (_socket, conn, requestId, r) => {
    const hello = HelloCodec.decodeRequest(r);
    if (conn.greeted) throw new ProtocolError("Hello sent twice on one connection.");
    if (hello.version !== PROTOCOL_VERSION) {
      throw new ProtocolError(
        `Protocol version mismatch: the client speaks version ${hello.version}, this plasma_store speaks ${PROTOCOL_VERSION}; use matching bun-plasma versions.`,
      );
    }
    conn.greeted = true;
    HelloCodec.encodeReply(conn.out, requestId);
    if (this.#pollAdviceUs > 0) PollAdviceCodec.encode(conn.out, this.#pollAdviceUs);
  };

  readonly #create: Handler = (socket, conn, requestId, r) => {
    const req = CreateCodec.decodeRequest(r);
    // The frame's bytes are reused after this call; a create that waits for memory keeps copies.
    const id = req.id.slice();
    const metadata = req.metadata.slice();
    const spec = { id, key: objectKey(id), dataSize: req.dataSize, metadataSize: metadata.length };
    const createStart = performance.now();
    this.#core.createOrWait(conn.clientId, spec, req.waitMs, (result) => {
      this.#observe("create", createStart);
      if (conn.closed) return;
      if (result instanceof PlasmaError) {
        ErrorReplyCodec.encode(conn.out, MessageType.Create, requestId, result);
      } else {
        this.#writeMetadata(result, metadata);
        CreateCodec.encodeReply(conn.out, requestId, result);
      }
      this.#scheduleFlush(socket, conn);
    });
  };

  readonly #createAndSeal: Handler = (_socket, conn, requestId, r) => {
    const req = CreateAndSealCodec.decodeRequest(r);
    const { id, data, metadata } = req;
    const spec = { id, key: objectKey(id), dataSize: data.length, metadataSize: metadata.length };
    this.#core.createAndSeal(conn.clientId, spec, (entry) => {
      this.#writeMetadata(entry, metadata);
      if (data.length > 0) this.#arenaView(entry.offset, data.length).set(data);
    });
    CreateAndSealCodec.encodeReply(conn.out, requestId);
  };

  readonly #seal: Handler = (_socket, conn, requestId, r) => {
    const key = SealCodec.decodeRequestKey(r);
    const sealStart = performance.now();
    this.#core.seal(conn.clientId, key);
    this.#observe("seal", sealStart);
    SealCodec.encodeReply(conn.out, requestId);
  };

  readonly #abort: Handler = (_socket, conn, requestId, r) => {
    const key = AbortCodec.decodeRequestKey(r);
    this.#core.abort(conn.clientId, key);
    AbortCodec.encodeReply(conn.out, requestId);
  };

  // Get and GetMetadata may complete inside another client's seal: they answer through #answer, so that
  // nothing that goes wrong answering this client reaches the sealer.
  readonly #get: Handler = (socket, conn, requestId, r) => {
    const req = GetCodec.decodeRequestKeys(r);
    const getStart = performance.now();
    this.#core.get(conn.clientId, req.keys, req.timeoutMs, (result) => {
      this.#observe("get", getStart);
      this.#answer(socket, conn, MessageType.Get, requestId, (out) =>
        GetCodec.encodeReply(out, requestId, result as GetReplyEntry[]),
      );
    });
  };

  readonly #getMetadata: Handler = (socket, conn, requestId, r) => {
    const { keys, timeoutMs } = GetMetadataCodec.decodeRequestKeys(r);
    this.#core.getMetadata(conn.clientId, keys, timeoutMs, this.#metadataCopy, (metadata) => {
      this.#answer(socket, conn, MessageType.GetMetadata, requestId, (out) => {
        if (metadata instanceof Error) throw metadata;
        GetMetadataCodec.encodeReply(out, requestId, metadata);
      });
    });
  };

  readonly #release: Handler = (_socket, conn, requestId, r) => {
    const { key, count } = ReleaseCodec.decodeRequestKey(r);
    this.#core.release(conn.clientId, key, count);
    if (requestId !== 0) ReleaseCodec.encodeReply(conn.out, requestId);
  };

  readonly #contains: Handler = (_socket, conn, requestId, r) => {
    const key = ContainsCodec.decodeRequestKey(r);
    ContainsCodec.encodeReply(conn.out, requestId, this.#core.contains(key));
  };

  readonly #delete: Handler = (_socket, conn, requestId, r) => {
    const keys = DeleteCodec.decodeRequestKeys(r);
    DeleteCodec.encodeReply(conn.out, requestId, this.#core.delete(keys));
  };

  readonly #evict: Handler = (_socket, conn, requestId, r) => {
    const bytes = EvictCodec.decodeRequest(r);
    EvictCodec.encodeReply(conn.out, requestId, this.#core.evict(bytes));
  };

  readonly #hash: Handler = (_socket, conn, requestId, r) => {
    const key = HashCodec.decodeRequestKey(r);
    const digest = this.#digest(this.#core.sealedEntry(key));
    HashCodec.encodeReply(conn.out, requestId, digest);
  };

  /** Every object, in as many reply frames as they need (ListCodec splits them, FLAG_MORE). */
  readonly #list: Handler = (_socket, conn, requestId, r) => {
    ListCodec.decodeRequest(r);
    const objects = this.#core.list().map((e) => ({
      id: e.id,
      dataSize: e.dataSize,
      metadataSize: e.metadataSize,
      refCount: e.holders.size,
      createTime: e.createTimeMs,
      constructDurationMs: e.constructDurationMs,
      state: e.state,
    }));
    ListCodec.encodeReply(conn.out, requestId, objects);
  };

  readonly #subscribe: Handler = (socket, conn, requestId, r) => {
    SubscribeCodec.decodeRequest(r);
    SubscribeCodec.encodeReply(conn.out, requestId);
    // The first batch (every sealed object) goes out in as many frames as it needs (NotificationCodec
    // splits it); later notes come inside other clients' requests, hence #answer.
    this.#core.subscribe(conn.clientId, (notes) => {
      this.#answer(socket, conn, MessageType.Subscribe, requestId, (out) =>
        NotificationCodec.encode(out, requestId, notes),
      );
    });
  };

  readonly #storeInfo: Handler = (_socket, conn, requestId, r) => {
    StoreInfoCodec.decodeRequest(r);
    const { capacityBytes, usedBytes, objectCount, clientCount } = this.#core.stats();
    StoreInfoCodec.encodeReply(conn.out, requestId, { capacityBytes, usedBytes, objectCount, clientCount });
  };

  readonly #debugString: Handler = (_socket, conn, requestId, r) => {
    DebugStringCodec.decodeRequest(r);
    DebugStringCodec.encodeReply(conn.out, requestId, debugString(this.#core));
  };

  /**
   * Writes a reply to `conn` that may be produced inside another client's request (a get completed by a
   * seal, a notification). What goes wrong is this client's alone: what `encode` wrote is taken back, and
   * the client gets the error as its reply (a PlasmaError but ProtocolError) or loses its connection (a
   * reply the store cannot encode); the request that triggered the reply never sees the error.
   */
  #answer(
    socket: ConnSocket,
    conn: Connection,
    type: MessageType,
    requestId: number,
    encode: (out: ByteWriter) => void,
  ): void {
    if (conn.closed) return;
    const mark = conn.out.length;
    try {
      encode(conn.out);
    } catch (error) {
      conn.out.length = mark;
      if (error instanceof PlasmaError && !(error instanceof ProtocolError)) {
        ErrorReplyCodec.encode(conn.out, type, requestId, error);
      } else {
        this.#log.error(
          { clientId: conn.clientId, err: error },
          `could not encode a ${messageName(type)} reply`,
        );
        this.#protocolViolation(
          socket,
          conn,
          new ProtocolError(`Internal store error: ${(error as Error).message}`),
        );
        return;
      }
    }
    this.#scheduleFlush(socket, conn);
  }

  /** A view of the store's own mapping of the arena, after making sure the file still has its size. */
  #arenaView(offset: number, lengthBytes: number): Uint8Array {
    this.#guardArena();
    // One long-lived view per 4 GiB window, sliced per request: a fresh external ArrayBuffer per request
    // would cost microseconds (and a GC now and then, as its size is reported to the collector).
    const window = Math.floor(offset / WINDOW_BYTES);
    const start = window * WINDOW_BYTES;
    if (offset + lengthBytes <= start + WINDOW_BYTES) {
      let view = this.#windows[window];
      if (view === undefined) {
        const size = Math.min(WINDOW_BYTES, this.#options.arena.sizeBytes - start);
        view = new Uint8Array(viewOf(this.#options.arena.address, start, size));
        this.#windows[window] = view;
      }
      if (offset - start + lengthBytes <= view.length)
        return view.subarray(offset - start, offset - start + lengthBytes);
    }
    return new Uint8Array(viewOf(this.#options.arena.address, offset, lengthBytes));
  }

  /**
   * An unsealed (`-d`) arena file can be resized by any client through the descriptor it was given. A
   * shrunk file would make the store's next access to the lost pages fault (SIGBUS), so the size is
   * checked and, if a client changed it, restored (lost pages come back zero-filled) with an error logged.
   */
  #guardArena(): void {
    const arena = this.#options.arena;
    if (arena.sealed === true) return;
    let sizeBytes: number;
    try {
      sizeBytes = fstatSync(arena.fd).size;
    } catch {
      return;
    }
    if (sizeBytes === arena.sizeBytes) return;
    this.arenaResizes++;
    this.#log.error(
      { expectedBytes: arena.sizeBytes, foundBytes: sizeBytes },
      "a client resized the arena file; restoring its size (objects in a truncated range lost their contents)",
    );
    try {
      ftruncateSync(arena.fd, arena.sizeBytes);
    } catch (error) {
      this.#log.fatal({ err: (error as Error).message }, "could not restore the arena file's size");
    }
  }

  #writeMetadata(entry: ObjectEntry, metadata: Uint8Array): void {
    if (metadata.length === 0) return;
    this.#arenaView(entry.offset + entry.dataSize, metadata.length).set(metadata);
  }

  readonly #metadataCopy = (entry: ObjectEntry): Uint8Array => {
    if (entry.metadataSize === 0) return new Uint8Array(0);
    return this.#arenaView(entry.offset + entry.dataSize, entry.metadataSize).slice();
  };

  /** XXH64 of data then metadata (contiguous in the arena), as 8 big-endian bytes. */
  #digest(entry: ObjectEntry): Uint8Array {
    const total = entry.dataSize + entry.metadataSize;
    const bytes = total === 0 ? new Uint8Array(0) : this.#arenaView(entry.offset, total);
    const digest = Bun.hash.xxHash64(bytes);
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, digest), false);
    return out;
  }
}
