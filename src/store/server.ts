import { fstatSync, ftruncateSync } from "node:fs";
import { availableParallelism } from "node:os";
import type { Socket, UnixSocketListener } from "bun";
import { peerCredentials, sendBytes, sendFds } from "../ffi/index.ts";
import type { Logger } from "../log.ts";
import { ByteReader, ByteWriter } from "../protocol/bytes.ts";
// Frames are decoded against the protocol's hard maxima (the codecs' defaults); the store's configured
// (lower) limits are checked by the core, so going past them is a LimitExceededError for that request, not
// a closed connection.
import {
  AbortCodec,
  BATCH_PREFIX_BYTES,
  BatchCodec,
  type ClusterNodeWire,
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
  LocateCodec,
  MAX_ADVISED_POLL_US,
  MessageType,
  messageName,
  NodesCodec,
  NotificationCodec,
  PinsReleasedCodec,
  PollAdviceCodec,
  ReleaseCodec,
  SealCodec,
  StoreInfoCodec,
  SubscribeCodec,
  WelcomeCodec,
} from "../protocol/codecs/index.ts";
import { AccessDeniedError, ClusterOffError, PlasmaError, ProtocolError } from "../protocol/errors.ts";
import { FLAG_MORE, FLAG_REPLY, FrameReader } from "../protocol/frame.ts";
import { MAX_FRAME_BODY_BYTES, PROTOCOL_VERSION } from "../protocol/limits.ts";
import { objectKey } from "../protocol/object-id.ts";
import { EventLoopPoller } from "../runtime/event-loop-poller.ts";
import type { ArenaAccess } from "./arena-access.ts";
import { debugString } from "./debug-string.ts";
import { DirectoryEdge, type DirectoryReadsOptions } from "./directory-edge.ts";
import { HashService } from "./hash-service.ts";
import {
  DEFAULT_HELLO_TIMEOUT_MS,
  OUTPUT_HARD_CAP_FACTOR,
  PRE_HELLO_MAX_FRAME_BODY_BYTES,
} from "./limits.ts";
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
/** A connection's output buffer larger than this is dropped once flushed. */
const SHRINK_OUTPUT_ABOVE_BYTES = 1024 * 1024;

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
  /** How the store reads and writes arena bytes without a client being able to kill it (SIGBUS). */
  access: ArenaAccess;
  /** A read-only descriptor of the arena, for read-only clients; null when there are none. */
  readOnlyFd: number | null;
}

export interface StoreServerOptions {
  socketPath: string;
  core: StoreCore;
  arena: ArenaMapping;
  logger: Logger;
  /** Uids allowed to connect (SO_PEERCRED); empty or absent: everyone who can open the socket. */
  allowUids?: readonly number[];
  /**
   * Uids served read-only (and allowed to connect even when absent from allowUids): they receive the
   * read-only descriptor and every request that would change the store is refused (AccessDeniedError).
   */
  readOnlyUids?: readonly number[];
  /**
   * µs the event loop keeps polling after a reply before it may sleep (default: PLASMA_STORE_POLL_US,
   * else 50 when the process may run on more than one CPU, else 0).
   */
  pollAfterReplyUs?: number;
  /** Called with the seconds from request to reply of each create, seal and get (for the admin metrics). */
  observeLatency?: (op: "create" | "seal" | "get", seconds: number) => void;
  /** A connection that has not said Hello this many ms after connecting is closed (default 5000). */
  helloTimeoutMs?: number;
  /** XXH64 of a spilled object's data ‖ metadata, from its file's header (spilling on, issue 16). */
  spilledDigest?: (key: string) => bigint;
  /** The cluster's answers to Locate and Nodes (--cluster-etcd), asked per request; null: the cluster is off. */
  cluster?: () => ClusterQueries | null;
  /** Directory reads (the core has the matching SharedReads); absent: every read goes through the socket. */
  directoryReads?: DirectoryReadsOptions;
}

/** What the cluster tells a client (the daemon passes its ClusterNode). Rejections are PlasmaErrors. */
export interface ClusterQueries {
  /** Per id, the names of the nodes whose stores hold it. */
  locate(ids: readonly Uint8Array[]): Promise<string[][]>;
  nodes(): Promise<ClusterNodeWire[]>;
}

interface Connection {
  /** Reserved at connect (the Welcome carries it); a client of the core from its Hello on. */
  clientId: number;
  pid: number;
  uid: number;
  gid: number;
  greeted: boolean;
  closed: boolean;
  /** Closes the connection if it has not said Hello in time; null once it has (or is gone). */
  helloTimer: ReturnType<typeof setTimeout> | null;
  reader: FrameReader;
  /** Reused for every request body of this connection. */
  body: ByteReader;
  /** Reads the body of a Batch (its sub-frames' bodies go through `body`). */
  batchBody: ByteReader;
  /** Serves one sub-frame of a Batch (made once per connection). */
  serveSubFrame: (type: number, flags: number, requestId: number, body: Uint8Array, view: DataView) => void;
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

/** Requests that change objects: refused to read-only clients. */
const MUTATING: readonly boolean[] = (() => {
  const table: boolean[] = new Array(MAX_MESSAGE_TYPE + 1).fill(false);
  for (const type of [
    MessageType.Create,
    MessageType.CreateAndSeal,
    MessageType.Seal,
    MessageType.Abort,
    MessageType.Delete,
    MessageType.Evict,
  ]) {
    table[type] = true;
  }
  return table;
})();

function readOnlyRefusal(type: number): AccessDeniedError {
  return new AccessDeniedError(
    `${messageName(type)} refused: this client's uid is read-only on this store (--read-only-uid); it may get, read and subscribe, not change objects.`,
  );
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
  /** Connections of read-only uids (see StoreServerOptions.readOnlyUids). */
  readonly #readOnly = new WeakSet<Connection>();
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
  /** Connections past their Hello (the ones that hold a client slot). */
  #greetedCount = 0;
  /** --max-client-memory: see #holdBack and #queue. */
  readonly #clientBudgetBytes: number;
  /** Hash requests: large objects are hashed off the event loop, digests cached per object. */
  readonly #hashes: HashService;
  /** Pin tables and the reclaim timer of directory reads; null when they are off. */
  readonly #directory: DirectoryEdge | null;

  constructor(options: StoreServerOptions) {
    this.#options = options;
    this.#core = options.core;
    this.#log = options.logger;
    this.#pollUs = options.pollAfterReplyUs ?? defaultPollUs();
    this.#handlers = this.#handlerTable();
    this.#clientBudgetBytes = this.#core.limits.maxClientMemoryBytes;
    const reads = options.directoryReads;
    this.#directory = reads === undefined ? null : new DirectoryEdge(options.core, reads, options.logger);
    this.#hashes = new HashService({
      core: options.core,
      arenaAddress: options.arena.address,
      arenaReadTarget: options.arena.access.readTarget,
      readArena: (offset, lengthBytes) => this.#arenaView(offset, lengthBytes),
      beforeArenaRead: () => this.#guardArena(),
      logger: options.logger,
      spilledDigest: options.spilledDigest,
    });
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
    this.#directory?.start();
  }

  /**
   * Closes the listener and every client connection. The promise resolves once no hash is reading the
   * arena any more: unmap it only then.
   */
  stop(): Promise<void> {
    this.#listener?.stop(true);
    this.#listener = null;
    this.#directory?.stop();
    for (const socket of [...this.#sockets]) socket.end();
    return this.#hashes.close();
  }

  // ---------------------------------------------------------------- connection lifecycle

  /**
   * A new connection gets its Welcome (and the arena's descriptor) at once, but takes a client slot only
   * with its Hello: until then it may send one small frame, and it is closed if Hello does not come within
   * helloTimeoutMs. It is refused at once if every slot is taken.
   */
  #open(socket: ConnSocket): void {
    const conn: Connection = {
      clientId: 0,
      pid: 0,
      uid: 0,
      gid: 0,
      greeted: false,
      closed: false,
      helloTimer: null,
      reader: new FrameReader(
        (type, flags, requestId, body, view) => this.#frame(socket, conn, type, flags, requestId, body, view),
        PRE_HELLO_MAX_FRAME_BODY_BYTES,
      ),
      body: new ByteReader(new Uint8Array(0)),
      batchBody: new ByteReader(new Uint8Array(0)),
      serveSubFrame: (type, flags, requestId, body, view) =>
        this.#serve(socket, conn, type, flags, requestId, body, view),
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
    conn.gid = cred.gid;
    const allow = this.#options.allowUids;
    try {
      if (allow !== undefined && allow.length > 0 && !this.#mayConnect(allow, cred.uid)) {
        throw new AccessDeniedError(
          `uid ${cred.uid} is not allowed to use this store (--allow-uid ${allow.join(",")}); ask its operator.`,
        );
      }
      conn.clientId = this.#core.reserveClientId();
    } catch (error) {
      this.#refuse(socket, conn, error);
      return;
    }
    this.#sockets.add(socket);
    const helloTimeoutMs = this.#options.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
    conn.helloTimer = setTimeout(() => this.#helloTimedOut(socket, conn, helloTimeoutMs), helloTimeoutMs);
    // The deadline alone does not keep a stopping store alive.
    conn.helloTimer.unref();
    this.#welcome(socket, conn);
  }

  #helloTimedOut(socket: ConnSocket, conn: Connection, helloTimeoutMs: number): void {
    conn.helloTimer = null;
    if (conn.closed || conn.greeted) return;
    this.#log.warn(
      { peerPid: conn.pid, peerUid: conn.uid, helloTimeoutMs, bufferedBytes: conn.reader.bufferedBytes },
      "no Hello within --hello-timeout-ms; closing the connection",
    );
    conn.closed = true;
    // Nothing is owed to a peer that never said Hello: close now, without waiting for it to close too.
    socket.terminate();
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

  /** A uid may connect when allowUids lists it or it is one of the read-only uids. */
  #mayConnect(allow: readonly number[], uid: number): boolean {
    return allow.includes(uid) || (this.#options.readOnlyUids?.includes(uid) ?? false);
  }

  /**
   * Sends the Welcome with the arena's descriptor (the read-only one, and the read-only flag, to a
   * read-only uid); hangs up if it cannot be sent.
   */
  #welcome(socket: ConnSocket, conn: Connection): void {
    const readOnlyFd = this.#options.arena.readOnlyFd;
    const readOnly = readOnlyFd !== null && (this.#options.readOnlyUids?.includes(conn.uid) ?? false);
    if (readOnly) this.#readOnly.add(conn);
    const pins = this.#directory?.openTable(conn.clientId) ?? null;
    const welcome = new ByteWriter(128);
    WelcomeCodec.encode(welcome, {
      version: PROTOCOL_VERSION,
      capacityBytes: this.#core.capacityBytes,
      arenaBytes: this.#options.arena.sizeBytes,
      clientId: conn.clientId,
      maxObjectBytes: this.#core.limits.maxObjectBytes,
      maxMetadataBytes: this.#core.limits.maxMetadataBytes,
      maxIdsPerRequest: this.#core.limits.maxIdsPerRequest,
      readOnly,
      directory: pins !== null,
    });
    const fd = readOnly ? readOnlyFd : this.#options.arena.fd;
    const fds = pins === null || this.#directory === null ? [fd] : [fd, this.#directory.directoryFd, pins.fd];
    try {
      sendFds(fdOf(socket), fds, welcome.bytes.subarray(0, welcome.length));
    } catch (error) {
      this.#log.warn(
        { clientId: conn.clientId, peerPid: conn.pid, err: (error as Error).message },
        "could not send the arena fd",
      );
      socket.end();
      return;
    }
    this.#log.info(
      { clientId: conn.clientId, peerPid: conn.pid, peerUid: conn.uid, readOnly },
      "client connected",
    );
  }

  #close(socket: ConnSocket): void {
    const conn = socket.data;
    if (conn === undefined || !this.#sockets.delete(socket)) return;
    if (conn.helloTimer !== null) clearTimeout(conn.helloTimer);
    conn.helloTimer = null;
    conn.closed = true;
    conn.backlog = [];
    conn.backlogBytes = 0;
    this.#guardArena();
    if (!conn.greeted) {
      this.#directory?.closeTable(conn.clientId);
      this.#log.debug({ peerPid: conn.pid, peerUid: conn.uid }, "connection closed before its Hello");
      return;
    }
    this.#greetedCount--;
    this.#updatePollAdvice();
    const client = this.#core.client(conn.clientId);
    const held = client?.objectsHeld ?? 0;
    const creating = client?.objectsCreating ?? 0;
    this.#core.disconnectClient(conn.clientId);
    this.#directory?.closeTable(conn.clientId);
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
    // Bytes the socket had read before it was paused still arrive; more than a frame of them is a peer
    // that keeps sending while it reads nothing.
    if (
      conn.reader.paused &&
      conn.reader.bufferedBytes > conn.reader.maxBodyBytes + this.#clientBudgetBytes
    ) {
      this.#log.warn(
        { clientId: conn.clientId, peerPid: conn.pid, bufferedBytes: conn.reader.bufferedBytes },
        "client sends on while it reads none of its replies; closing",
      );
      conn.closed = true;
      socket.terminate();
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
  #updatePollAdvice(): boolean {
    const advice =
      this.#pollUs > 0 && this.#greetedCount < this.#cpus
        ? Math.min(2 * this.#pollUs, MAX_ADVISED_POLL_US)
        : 0;
    if (advice === this.#pollAdviceUs) return false;
    this.#pollAdviceUs = advice;
    for (const socket of this.#sockets) {
      const conn = socket.data;
      if (conn.closed || !conn.greeted) continue;
      PollAdviceCodec.encode(conn.out, advice);
      this.#scheduleFlush(socket, conn);
    }
    return true;
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
    // One large reply must not leave its buffer to the connection for good.
    if (conn.out.bytes.length > SHRINK_OUTPUT_ABOVE_BYTES) conn.out = new ByteWriter();
  }

  /**
   * Keeps what the socket did not take. Requests stop being read at the budget (#holdBack), so only
   * replies the store cannot hold back (gets that waited, notifications) grow the backlog past it; at
   * OUTPUT_HARD_CAP_FACTOR times the budget the client is dropped.
   */
  #queue(socket: ConnSocket, conn: Connection, bytes: Uint8Array): void {
    conn.backlog.push(bytes);
    conn.backlogBytes += bytes.length;
    if (conn.backlogBytes > OUTPUT_HARD_CAP_FACTOR * this.#clientBudgetBytes) {
      this.#log.warn(
        { clientId: conn.clientId, peerPid: conn.pid, backlogBytes: conn.backlogBytes },
        "client reads too slowly; closing",
      );
      conn.backlog = [];
      conn.backlogBytes = 0;
      conn.closed = true;
      socket.terminate();
    }
  }

  /**
   * Called after each request: once the replies a client has not read reach --max-client-memory, the
   * store reads no more of its requests (the socket is paused, the frames already read stay unparsed)
   * until the client has read half of them (#drain). So no reply is built for a client that does not read.
   */
  #holdBack(socket: ConnSocket, conn: Connection): void {
    if (conn.out.length + conn.backlogBytes < this.#clientBudgetBytes) return;
    this.#flush(socket, conn);
    if (conn.closed || conn.backlogBytes < this.#clientBudgetBytes || conn.reader.paused) return;
    conn.reader.pause();
    socket.pause();
    this.#log.debug(
      { clientId: conn.clientId, backlogBytes: conn.backlogBytes },
      "client's unread replies reached --max-client-memory; reading none of its requests until it reads",
    );
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
      break;
    }
    if (conn.reader.paused && !conn.closed && conn.backlogBytes <= this.#clientBudgetBytes / 2) {
      this.#readOn(socket, conn);
    }
  }

  /** Serves the requests left unparsed by #holdBack, then reads the socket again (unless held back again). */
  #readOn(socket: ConnSocket, conn: Connection): void {
    try {
      conn.reader.resume();
    } catch (error) {
      this.#protocolViolation(socket, conn, error);
      return;
    }
    this.#flush(socket, conn);
    if (!conn.reader.paused && !conn.closed) socket.resume();
    this.#keepPolling();
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
    if (type === MessageType.Batch) this.#batch(conn, flags, requestId, body, view);
    else this.#serve(socket, conn, type, flags, requestId, body, view);
    this.#holdBack(socket, conn);
  }

  /**
   * A Batch: every sub-request served in order in this one pass, as if each had come as a frame of its
   * own (an error is that sub-request's error reply; a get that waits answers later on its own). The
   * replies that are ready go back as one Batch reply frame. A malformed batch serves nothing.
   */
  #batch(conn: Connection, flags: number, requestId: number, body: Uint8Array, view: DataView): void {
    if (conn.closed) return;
    if (!conn.greeted) throw new ProtocolError("The first frame must be Hello, got Batch.");
    if (flags !== 0 || requestId !== 0)
      throw new ProtocolError("A Batch request carries flags 0 and request id 0.");
    const start = conn.out.length;
    BatchCodec.forEachFrame(conn.batchBody.reset(body, view), conn.serveSubFrame);
    if (conn.closed || conn.out.length < start) return;
    this.#wrapReplies(conn.out, start);
  }

  /** Turns the replies in `out` from `start` on into one Batch reply frame, when there are several. */
  #wrapReplies(out: ByteWriter, start: number): void {
    const end = out.length;
    const count = BatchCodec.batchableCount(out.bytes, out.view, start, end);
    if (count === 0) return;
    out.skip(BATCH_PREFIX_BYTES);
    out.bytes.copyWithin(start + BATCH_PREFIX_BYTES, start, end);
    BatchCodec.writePrefix(out, start, FLAG_REPLY, count, end - start);
  }

  /** Serves one request frame (on its own or from a batch), its reply or error reply to conn.out. */
  #serve(
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
      if (MUTATING[type] === true && this.#readOnly.has(conn)) throw readOnlyRefusal(type);
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
      [MessageType.Locate]: this.#locate,
      [MessageType.Nodes]: this.#nodes,
      [MessageType.PinsReleased]: this.#pinsReleased,
    };
    const table: Handler[] = [];
    for (let type = 0; type <= MAX_MESSAGE_TYPE; type++) table.push(byType[type] ?? unknownType(type));
    return table;
  }

  /** Hello takes a client slot; past the --max-clients limit (filled since the Welcome) the peer is told and dropped. */
  readonly #hello: Handler = (socket, conn, requestId, r) => {
    const hello = HelloCodec.decodeRequest(r);
    if (conn.greeted) throw new ProtocolError("Hello sent twice on one connection.");
    if (hello.version !== PROTOCOL_VERSION) {
      throw new ProtocolError(
        `Protocol version mismatch: the client speaks version ${hello.version}, this plasma_store speaks ${PROTOCOL_VERSION}; use matching bun-plasma versions.`,
      );
    }
    try {
      this.#core.connectClient({ pid: conn.pid, uid: conn.uid, gid: conn.gid }, conn.clientId);
    } catch (error) {
      const refusal = error instanceof PlasmaError ? error : new PlasmaError(String(error));
      ErrorReplyCodec.encode(conn.out, MessageType.Hello, requestId, refusal);
      this.#log.warn({ peerPid: conn.pid, peerUid: conn.uid, reason: refusal.message }, "client refused");
      this.#flush(socket, conn);
      conn.closed = true;
      socket.end();
      return;
    }
    if (conn.helloTimer !== null) clearTimeout(conn.helloTimer);
    conn.helloTimer = null;
    conn.greeted = true;
    this.#directory?.attach(conn.clientId);
    conn.reader.maxBodyBytes = Math.min(MAX_FRAME_BODY_BYTES, this.#clientBudgetBytes);
    this.#greetedCount++;
    HelloCodec.encodeReply(conn.out, requestId);
    // A change of advice goes to every client, this one included; else it hears the advice in force.
    if (!this.#updatePollAdvice() && this.#pollAdviceUs > 0)
      PollAdviceCodec.encode(conn.out, this.#pollAdviceUs);
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
      const failure =
        result instanceof PlasmaError ? result : this.#writeCreatedMetadata(conn, result, metadata);
      if (failure !== null) {
        ErrorReplyCodec.encode(conn.out, MessageType.Create, requestId, failure);
      } else {
        CreateCodec.encodeReply(conn.out, requestId, result as ObjectEntry);
      }
      this.#scheduleFlush(socket, conn);
    });
  };

  readonly #createAndSeal: Handler = (socket, conn, requestId, r) => {
    const req = CreateAndSealCodec.decodeRequest(r);
    const { id, data, metadata } = req;
    const spec = { id, key: objectKey(id), dataSize: data.length, metadataSize: metadata.length };
    // With spilling on, the create may wait for spills: the frame's bytes are copied if it does.
    let bytes = { data, metadata };
    let returned = false;
    let replied = false;
    this.#core.createAndSealOrWait(
      conn.clientId,
      spec,
      (entry) => {
        this.#writeMetadata(entry, bytes.metadata);
        this.#writeArena(entry.offset, bytes.data);
      },
      (error) => {
        replied = true;
        if (conn.closed) return;
        if (error !== null) ErrorReplyCodec.encode(conn.out, MessageType.CreateAndSeal, requestId, error);
        else CreateAndSealCodec.encodeReply(conn.out, requestId);
        if (returned) this.#scheduleFlush(socket, conn);
      },
    );
    if (!replied) bytes = { data: data.slice(), metadata: metadata.slice() };
    returned = true;
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
    this.#core.get(
      conn.clientId,
      req.keys,
      req.timeoutMs,
      (result) => {
        this.#observe("get", getStart);
        this.#answer(socket, conn, MessageType.Get, requestId, (out) =>
          GetCodec.encodeReply(out, requestId, result as GetReplyEntry[]),
        );
      },
      (error) => {
        this.#answer(socket, conn, MessageType.Get, requestId, () => {
          throw error;
        });
      },
    );
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

  readonly #pinsReleased: Handler = (_socket, conn, requestId, r) => {
    PinsReleasedCodec.decodeRequest(r);
    this.#core.reclaimPins();
    if (requestId !== 0) PinsReleasedCodec.encodeReply(conn.out, requestId);
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

  readonly #hash: Handler = (socket, conn, requestId, r) => {
    const key = HashCodec.decodeRequestKey(r);
    this.#hashes.hash(conn.clientId, key, (result) => {
      if (conn.closed) return;
      if (result instanceof PlasmaError)
        ErrorReplyCodec.encode(conn.out, MessageType.Hash, requestId, result);
      else HashCodec.encodeReply(conn.out, requestId, result);
      this.#scheduleFlush(socket, conn);
    });
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

  // Locate and Nodes ask etcd: they answer later, through #answer (an error reply if the cluster fails).
  readonly #locate: Handler = (socket, conn, requestId, r) => {
    const ids = LocateCodec.decodeRequest(r).map((id) => id.slice());
    this.#askCluster(socket, conn, MessageType.Locate, requestId, async (cluster) => {
      const holders = await cluster.locate(ids);
      return (out) => LocateCodec.encodeReply(out, requestId, holders);
    });
  };

  readonly #nodes: Handler = (socket, conn, requestId, r) => {
    NodesCodec.decodeRequest(r);
    this.#askCluster(socket, conn, MessageType.Nodes, requestId, async (cluster) => {
      const nodes = await cluster.nodes();
      return (out) => NodesCodec.encodeReply(out, requestId, nodes);
    });
  };

  #askCluster(
    socket: ConnSocket,
    conn: Connection,
    type: MessageType,
    requestId: number,
    ask: (cluster: ClusterQueries) => Promise<(out: ByteWriter) => void>,
  ): void {
    const cluster = this.#options.cluster?.() ?? null;
    if (cluster === null) {
      throw new ClusterOffError(
        `This plasma_store runs without a cluster, so it cannot answer ${messageName(type)}; start it with --cluster-etcd URLS.`,
      );
    }
    ask(cluster).then(
      (encode) => this.#answer(socket, conn, type, requestId, encode),
      (error: unknown) =>
        this.#answer(socket, conn, type, requestId, () => {
          throw error instanceof PlasmaError ? error : new PlasmaError(String(error));
        }),
    );
  }

  readonly #storeInfo: Handler = (_socket, conn, requestId, r) => {
    StoreInfoCodec.decodeRequest(r);
    const { capacityBytes, usedBytes, objectCount, clientCount } = this.#core.stats();
    StoreInfoCodec.encodeReply(conn.out, requestId, { capacityBytes, usedBytes, objectCount, clientCount });
  };

  readonly #debugString: Handler = (_socket, conn, requestId, r) => {
    DebugStringCodec.decodeRequest(r);
    DebugStringCodec.encodeReply(conn.out, requestId, debugString(this.#core, this.#hashes.figures));
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

  /**
   * A view (sealed memfd) or a copy (any other backing) of arena bytes that the caller only reads before
   * returning, after making sure the file still has its size. See ArenaAccess for why the store never
   * touches its mapping of an arena a client could shrink.
   */
  #arenaView(offset: number, lengthBytes: number): Uint8Array {
    this.#guardArena();
    return this.#options.arena.access.peek(offset, lengthBytes);
  }

  /** Writes arena bytes (pwrite unless the arena is a sealed memfd); throws PlasmaError if refused. */
  #writeArena(offset: number, bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#guardArena();
    this.#options.arena.access.write(offset, bytes);
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
    this.#writeArena(entry.offset + entry.dataSize, metadata);
  }

  /**
   * The metadata of a create that may complete inside another client's request (it waited for memory):
   * a refused write aborts the new object and becomes this creator's error, never the other's.
   */
  #writeCreatedMetadata(conn: Connection, entry: ObjectEntry, metadata: Uint8Array): PlasmaError | null {
    try {
      this.#writeMetadata(entry, metadata);
      return null;
    } catch (error) {
      if (!(error instanceof PlasmaError)) throw error;
      this.#core.abort(conn.clientId, entry.key);
      return error;
    }
  }

  /** A copy of the object's metadata; never throws for a truncated arena (lost bytes read as zeros). */
  readonly #metadataCopy = (entry: ObjectEntry): Uint8Array => {
    if (entry.metadataSize === 0) return new Uint8Array(0);
    this.#guardArena();
    return this.#options.arena.access.read(entry.offset + entry.dataSize, entry.metadataSize);
  };
}
