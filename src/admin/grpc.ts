import * as grpc from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "../log.ts";
import { PlasmaError } from "../protocol/errors.ts";
import { type AdminAuth, describeAuthFailure } from "./auth.ts";
import {
  AdminError,
  AdminInvalidArgumentError,
  AdminListenError,
  AdminPermissionDeniedError,
} from "./errors.ts";
import { adminServiceDefinition, loadAdminDefinition } from "./proto.ts";
import {
  type AdminService,
  DEFAULT_CHUNK_BYTES,
  EVENT_KIND_NAMES,
  type EventKindName,
  EventQueue,
  type EventView,
  type HeldObject,
  MAX_CHUNK_BYTES,
} from "./service.ts";

/** The gRPC edge of the admin plane: PlasmaAdmin, grpc.health.v1.Health and server reflection. */

export interface AdminGrpcOptions {
  service: AdminService;
  auth: AdminAuth;
  logger: Logger;
  host: string;
  port: number;
}

export interface AdminGrpcServer {
  /** HOST:PORT actually bound (the port is real even when 0 was asked). */
  readonly address: string;
  readonly port: number;
  stop(): void;
}

type Metadata = grpc.Metadata;
interface CallLike {
  metadata: Metadata;
  getPeer(): string;
}
type UnaryHandler = (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>) => unknown;

const PLASMA_TO_GRPC: Partial<Record<string, grpc.status>> = {
  OBJECT_NOT_FOUND: grpc.status.NOT_FOUND,
  OBJECT_NOT_SEALED: grpc.status.FAILED_PRECONDITION,
  LIMIT_EXCEEDED: grpc.status.INVALID_ARGUMENT,
  STORE_FULL: grpc.status.RESOURCE_EXHAUSTED,
  ACCESS_DENIED: grpc.status.PERMISSION_DENIED,
  CLUSTER_UNAVAILABLE: grpc.status.UNAVAILABLE,
};

function statusOf(error: unknown): Partial<grpc.StatusObject> {
  if (error instanceof AdminError) return { code: grpc.status[error.code], details: error.message };
  if (error instanceof PlasmaError) {
    return { code: PLASMA_TO_GRPC[error.code] ?? grpc.status.INTERNAL, details: error.message };
  }
  return { code: grpc.status.INTERNAL, details: (error as Error)?.message ?? String(error) };
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function asString(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function asNumber(value: unknown): number {
  return typeof value === "number" ? value : 0;
}

function eventMessage(event: EventView): Record<string, unknown> {
  const message: Record<string, unknown> = {
    sequence: event.sequence,
    kind: event.kind,
    timeMs: event.timeMs,
    policyFrom: event.policyFrom,
    policyTo: event.policyTo,
  };
  if (event.object !== null) message.object = event.object;
  if (event.client !== null) message.client = event.client;
  return message;
}

/** Waits until the stream can take more, or the call ends. */
function drained(call: grpc.ServerWritableStream<unknown, unknown>): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      call.off("drain", done);
      call.off("cancelled", done);
      call.off("close", done);
      resolve();
    };
    call.on("drain", done);
    call.on("cancelled", done);
    call.on("close", done);
  });
}

export async function startAdminGrpc(options: AdminGrpcOptions): Promise<AdminGrpcServer> {
  const { service, auth, logger: log } = options;
  // grpc-js prints its own errors to stderr; route them to our logger (bind failures are reported anyway).
  grpc.setLogger({
    error: (...args: unknown[]) => log.debug({ grpcJs: args.map(String).join(" ") }, "grpc-js"),
    info: (...args: unknown[]) => log.debug({ grpcJs: args.map(String).join(" ") }, "grpc-js"),
    debug: (...args: unknown[]) => log.trace({ grpcJs: args.map(String).join(" ") }, "grpc-js"),
  });
  const definition = loadAdminDefinition();
  const server = new grpc.Server({
    "grpc.max_send_message_length": MAX_CHUNK_BYTES + 64 * 1024,
    "grpc.max_receive_message_length": 4 * 1024 * 1024,
  });

  const authorize = (call: CallLike, method: string, destructive: boolean): string => {
    const peer = call.getPeer();
    const header = call.metadata.get("authorization")[0];
    const failure = auth.check(typeof header === "string" ? header : undefined);
    if (failure !== null) {
      log.warn({ peer, method, reason: describeAuthFailure(failure) }, "admin call refused: unauthenticated");
      throw failure;
    }
    if (destructive && auth.readOnly) {
      log.warn({ peer, method }, "admin call refused: the admin plane is read-only");
      throw new AdminPermissionDeniedError(
        `${method} changes the store, and this admin plane is read-only (--admin-read-only); ask its operator.`,
      );
    }
    return peer;
  };

  const unary =
    (method: string, handler: UnaryHandler, destructive = false) =>
    (
      call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ): void => {
      void (async () => {
        authorize(call, method, destructive);
        return await handler(call);
      })().then(
        (response) => callback(null, response),
        (error: unknown) => {
          if (!(error instanceof AdminError || error instanceof PlasmaError)) {
            log.error({ method, err: error }, "admin call failed");
          }
          callback(statusOf(error));
        },
      );
    };

  const handlers: grpc.UntypedServiceImplementation = {
    GetStoreInfo: unary("GetStoreInfo", () => service.info()),
    GetStats: unary("GetStats", () => service.stats()),
    ListObjects: unary("ListObjects", (call) => {
      const r = call.request;
      return service.listObjects({
        pageSize: asNumber(r.pageSize),
        pageToken: asString(r.pageToken),
        state: asString(r.state) as "OBJECT_STATE_UNSPECIFIED",
        minSizeBytes: asNumber(r.minSizeBytes),
        maxSizeBytes: asNumber(r.maxSizeBytes),
        idPrefix: asString(r.idPrefix),
        orderBy: (asString(r.orderBy) || "ORDER_BY_CREATE_TIME") as "ORDER_BY_CREATE_TIME",
        descending: r.descending === true,
        metadataLimitBytes: asNumber(r.metadataLimitBytes),
      });
    }),
    GetObject: unary("GetObject", (call) =>
      service.getObject(asString(call.request.id), asNumber(call.request.metadataLimitBytes)),
    ),
    DeleteObjects: unary(
      "DeleteObjects",
      (call) => {
        const ids = Array.isArray(call.request.ids) ? call.request.ids.map(asString) : [];
        const result = service.deleteObjects(ids);
        log.info({ peer: call.getPeer(), method: "DeleteObjects", ...result }, "admin deleted objects");
        return result;
      },
      true,
    ),
    Evict: unary(
      "Evict",
      (call) => {
        const bytes = asNumber(call.request.bytes);
        const result = service.evict(bytes);
        log.info(
          {
            peer: call.getPeer(),
            method: "Evict",
            bytes,
            freedBytes: result.freedBytes,
            evicted: result.evicted.map((o) => o.id),
          },
          "admin evicted objects",
        );
        return result;
      },
      true,
    ),
    GetEvictionPolicy: unary("GetEvictionPolicy", () => service.policy()),
    SetEvictionPolicy: unary(
      "SetEvictionPolicy",
      (call) => {
        const result = service.setPolicy(asString(call.request.name));
        log.info(
          { peer: call.getPeer(), method: "SetEvictionPolicy", from: result.previous, to: result.name },
          "admin set the eviction policy",
        );
        return result;
      },
      true,
    ),
    ListClients: unary("ListClients", () => ({ clients: service.clients() })),
    ListNodes: unary("ListNodes", () => service.cluster.nodes()),
    LocateObjects: unary("LocateObjects", (call) =>
      service.cluster.locate(Array.isArray(call.request.ids) ? call.request.ids : []),
    ),
    ReadObject: (call: grpc.ServerWritableStream<Record<string, unknown>, unknown>) => {
      void readObject(call);
    },
    WatchEvents: (call: grpc.ServerWritableStream<Record<string, unknown>, unknown>) => {
      void watchEvents(call);
    },
  };

  const fail = (call: grpc.ServerWritableStream<Record<string, unknown>, unknown>, error: unknown) => {
    if (!(error instanceof AdminError || error instanceof PlasmaError)) {
      log.error({ err: error }, "admin stream failed");
    }
    call.emit("error", statusOf(error));
  };

  const readObject = async (call: grpc.ServerWritableStream<Record<string, unknown>, unknown>) => {
    let held: HeldObject | null = null;
    try {
      const peer = authorize(call, "ReadObject", false);
      const r = call.request;
      const offset = asNumber(r.offsetBytes);
      const chunkBytes = asNumber(r.chunkSizeBytes) || DEFAULT_CHUNK_BYTES;
      if (chunkBytes > MAX_CHUNK_BYTES) {
        throw new AdminInvalidArgumentError(`chunk_size_bytes is at most ${MAX_CHUNK_BYTES}.`);
      }
      held = service.holdObject(asString(r.id));
      const size = held.dataSizeBytes;
      if (offset > size) {
        throw new AdminInvalidArgumentError(
          `offset_bytes ${offset} is past the object's ${size} data bytes.`,
        );
      }
      const length = asNumber(r.lengthBytes) || size - offset;
      if (offset + length > size) {
        throw new AdminInvalidArgumentError(
          `offset_bytes + length_bytes (${offset + length}) is past the object's ${size} data bytes.`,
        );
      }
      log.debug({ peer, id: held.id, offset, length }, "admin reads an object");
      let position = offset;
      const end = offset + length;
      do {
        if (call.cancelled) return;
        const n = Math.min(chunkBytes, end - position);
        const data = held.read(position, n);
        const more = call.write({ offsetBytes: position, data, dataSizeBytes: size });
        position += n;
        if (!more) await drained(call);
      } while (position < end);
      if (!call.cancelled) call.end();
    } catch (error) {
      if (!call.cancelled) fail(call, error);
    } finally {
      held?.close();
    }
  };

  const watchEvents = async (call: grpc.ServerWritableStream<Record<string, unknown>, unknown>) => {
    let stop: (() => void) | null = null;
    const queue = new EventQueue();
    try {
      const peer = authorize(call, "WatchEvents", false);
      const requested = Array.isArray(call.request.kinds) ? call.request.kinds.map(asString) : [];
      const kinds = requested.filter((k) => k !== "EVENT_KIND_UNSPECIFIED");
      for (const kind of kinds) {
        if (!(EVENT_KIND_NAMES as readonly string[]).includes(kind)) {
          throw new AdminInvalidArgumentError(`Unknown event kind ${JSON.stringify(kind)}.`);
        }
      }
      stop = service.watch(kinds as EventKindName[], (event) => queue.push(event));
      // Headers now: the caller learns that every later event will reach this stream.
      call.sendMetadata(new grpc.Metadata());
      call.on("cancelled", () => queue.close());
      call.on("close", () => queue.close());
      log.debug({ peer, kinds }, "admin watches events");
      for (;;) {
        const event = await queue.next();
        if (event === null || call.cancelled) return;
        if (!call.write(eventMessage(event))) await drained(call);
      }
    } catch (error) {
      if (!call.cancelled) fail(call, error);
    } finally {
      stop?.();
      queue.close();
    }
  };

  server.addService(adminServiceDefinition(definition), handlers);
  const health = new HealthImplementation({ "": "SERVING", "plasma.admin.v1.PlasmaAdmin": "SERVING" });
  health.addToServer(server);
  new ReflectionService(definition).addToServer(server);

  const target = formatHostPort(options.host, options.port);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(target, grpc.ServerCredentials.createInsecure(), (error, boundPort) => {
      if (error !== null)
        reject(
          new AdminListenError(`Cannot serve admin gRPC on ${target}: ${error.message}`, { cause: error }),
        );
      else resolve(boundPort);
    });
  });
  return {
    address: formatHostPort(options.host, port),
    port,
    stop() {
      health.setStatus("", "NOT_SERVING");
      server.forceShutdown();
    },
  };
}
