import type { Logger } from "../log.ts";
import type { StoreCore } from "../store/store.ts";
import { createAdminAuth } from "./auth.ts";
import type { ClusterAdminView } from "./cluster-view.ts";
import { type AdminEndpointOption, type AdminOptions, checkAdminSecurity } from "./config.ts";
import { type AdminGrpcServer, startAdminGrpc } from "./grpc.ts";
import { type AdminHttpServer, startAdminHttp } from "./http.ts";
import { AdminMetrics, type LatencyOperation } from "./metrics.ts";
import type { ResidentBytesIn } from "./residency.ts";
import { AdminService, type AdminServiceOptions } from "./service.ts";

export interface AdminPlaneOptions extends AdminOptions {
  core: StoreCore;
  logger: Logger;
  version: string;
  socketPath: string;
  arena: AdminServiceOptions["arena"];
  startTimeMs: number;
  readArena(offset: number, length: number): Uint8Array;
  memory: AdminServiceOptions["memory"];
  /** Resident bytes of one range of the arena (mincore), for the sliced sweeps of /metrics. */
  residentBytesIn: ResidentBytesIn;
  ready(): boolean;
  /** The file holding the token when the store made it up (named in refusals' hints). */
  tokenFile?: string;
  /** The cluster, when the store runs with --cluster-etcd: ListNodes, LocateObjects, /v1/cluster, metrics. */
  cluster?: ClusterAdminView;
}

/** The running admin plane of one store. */
export interface AdminPlane {
  /** HOST:PORT bound, or null when disabled (or the default port was busy). */
  readonly grpcAddress: string | null;
  readonly httpAddress: string | null;
  readonly service: AdminService;
  /** Records a data-path latency in the plasma_<op>_duration_seconds histogram. */
  observeLatency(op: LatencyOperation, seconds: number): void;
  /** Stops both servers (streams are cancelled, held objects released). */
  stop(): void;
}

/**
 * Starts gRPC and HTTP next to the data path, in the store process. An endpoint taken from the default
 * address (not asked for) whose port is busy is skipped with a warning, so several stores can share a
 * machine; an address asked for explicitly that cannot be bound is an error.
 */
export async function startAdminPlane(options: AdminPlaneOptions): Promise<AdminPlane> {
  checkAdminSecurity(options);
  const log = options.logger;
  const auth = createAdminAuth(options.token, options.readOnly, options.tokenFile);
  let grpcServer: AdminGrpcServer | null = null;
  let httpServer: AdminHttpServer | null = null;
  const service = new AdminService({
    core: options.core,
    version: options.version,
    socketPath: options.socketPath,
    arena: options.arena,
    startTimeMs: options.startTimeMs,
    readArena: options.readArena,
    memory: options.memory,
    cluster: options.cluster,
    endpoints: () => ({
      grpc: grpcServer?.address ?? "",
      http: httpServer?.address ?? "",
      tokenRequired: auth.tokenRequired,
      readOnly: auth.readOnly,
    }),
  });
  const metrics = new AdminMetrics(service, options.residentBytesIn);

  const skipIfOptional = (what: string, endpoint: AdminEndpointOption, error: unknown): null => {
    if (endpoint.optional !== true) throw error;
    log.warn(
      { host: endpoint.host, port: endpoint.port, err: (error as Error).message },
      `admin ${what} not started: its default address is busy (another store?); pass --admin-${what} HOST:PORT or off`,
    );
    return null;
  };

  try {
    if (options.grpc !== null) {
      const endpoint = options.grpc;
      grpcServer = await startAdminGrpc({
        service,
        auth,
        logger: log,
        host: endpoint.host,
        port: endpoint.port,
      }).catch((error: unknown) => skipIfOptional("grpc", endpoint, error));
    }
    if (options.http !== null) {
      const endpoint = options.http;
      try {
        httpServer = startAdminHttp({
          service,
          metrics,
          auth,
          logger: log,
          host: endpoint.host,
          port: endpoint.port,
          ready: options.ready,
          metricsOpen: options.metricsOpen === true,
          allowedHosts: options.allowedHosts ?? [],
        });
      } catch (error) {
        httpServer = skipIfOptional("http", endpoint, error);
      }
    }
  } catch (error) {
    grpcServer?.stop();
    metrics.close();
    service.close();
    throw error;
  }

  let stopped = false;
  return {
    grpcAddress: grpcServer?.address ?? null,
    httpAddress: httpServer?.address ?? null,
    service,
    observeLatency: (op, seconds) => metrics.observeLatency(op, seconds),
    stop() {
      if (stopped) return;
      stopped = true;
      grpcServer?.stop();
      httpServer?.stop();
      metrics.close();
      service.close();
    },
  };
}
