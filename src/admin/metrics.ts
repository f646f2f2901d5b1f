import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { registerClusterMetrics } from "./cluster-metrics.ts";
import { ResidencySampler, type ResidentBytesIn } from "./residency.ts";
import type { AdminService, CountersView } from "./service.ts";
import { registerSpillMetrics } from "./spill-metrics.ts";

/** Data-path operations whose latency (request in to reply out, waiting included) is recorded. */
export type LatencyOperation = "create" | "seal" | "get";

const LATENCY_BUCKETS_SECONDS = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
  0.5, 1, 2.5, 5, 10,
];

const COUNTERS: readonly [keyof CountersView, string, string][] = [
  ["creates", "plasma_creates_total", "Objects created since start."],
  ["seals", "plasma_seals_total", "Objects sealed since start."],
  ["aborts", "plasma_aborts_total", "Creates aborted (by the creator or its disconnect) since start."],
  ["getHits", "plasma_get_hits_total", "Object lookups of gets that found a sealed object."],
  ["getMisses", "plasma_get_misses_total", "Object lookups of gets that found nothing sealed in time."],
  ["getTimeouts", "plasma_get_timeouts_total", "Gets whose timeout passed before all objects were sealed."],
  ["releases", "plasma_releases_total", "References released since start."],
  ["deletes", "plasma_deletes_total", "Objects deleted since start."],
  ["evictions", "plasma_evictions_total", "Objects evicted since start."],
  ["evictedBytes", "plasma_evicted_bytes_total", "Bytes (data + metadata) evicted since start."],
  ["storeFullErrors", "plasma_store_full_errors_total", "Creates refused because the store was full."],
];

/** Prometheus metrics of one store, in its own registry (several stores may share a process in tests). */
export class AdminMetrics {
  readonly registry = new Registry();
  readonly #latency: Record<LatencyOperation, Histogram>;
  /** plasma_arena_faulted_bytes: swept in slices, at most every few seconds (see residency.ts). */
  readonly residency: ResidencySampler;
  /** Stops following the cluster's events (a no-op without a cluster). */
  readonly close: () => void;

  constructor(service: AdminService, residentBytesIn: ResidentBytesIn) {
    const r = this.registry;
    const residency = new ResidencySampler(service.info().arenaBytes, residentBytesIn);
    this.residency = residency;
    const stats = () => service.stats();
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: [r],
        collect() {
          this.set(read());
        },
      });
    gauge("plasma_capacity_bytes", "Store capacity (-m).", () => service.core.capacityBytes);
    gauge("plasma_used_bytes", "Bytes allocated to objects.", () => stats().usedBytes);
    gauge("plasma_free_bytes", "Bytes not allocated.", () => stats().freeBytes);
    gauge(
      "plasma_largest_free_block_bytes",
      "Largest object that fits without evicting.",
      () => stats().largestFreeBlockBytes,
    );
    gauge(
      "plasma_arena_bytes",
      "Size of the shared-memory arena (the capacity rounded to pages).",
      () => service.info().arenaBytes,
    );
    gauge(
      "plasma_arena_reserved_bytes",
      "Arena bytes the kernel promised up front (fallocate, huge pages).",
      () => service.memory().reservedBytes,
    );
    new Gauge({
      name: "plasma_arena_faulted_bytes",
      help: "Arena bytes resident in memory (mincore, whole pages), as of a sweep at most 5 s old.",
      registers: [r],
      async collect() {
        this.set(await residency.residentBytes());
      },
    });
    new Counter({
      name: "plasma_arena_residency_sweeps_total",
      help: "Measurements of plasma_arena_faulted_bytes over the whole arena (scrapes share one, or reuse one at most 5 s old).",
      registers: [r],
      collect() {
        this.reset();
        this.inc(residency.sweeps);
      },
    });
    gauge("plasma_evictable_bytes", "Bytes of sealed objects nobody holds.", () => stats().evictableBytes);
    gauge("plasma_connected_clients", "Clients connected to the socket.", () => stats().connectedClients);
    gauge("plasma_waiting_gets", "Gets waiting for objects to be sealed.", () => stats().waitingGets);
    gauge("plasma_waiting_creates", "Creates waiting for memory.", () => stats().waitingCreates);
    new Gauge({
      name: "plasma_objects",
      help: "Objects in the store by state.",
      labelNames: ["state"],
      registers: [r],
      collect() {
        const s = stats();
        this.set({ state: "created" }, s.objectsCreated);
        this.set({ state: "sealed" }, s.objectsSealed);
      },
    });
    new Gauge({
      name: "plasma_object_bytes",
      help: "Bytes (data + metadata) of objects by state.",
      labelNames: ["state"],
      registers: [r],
      collect() {
        const s = stats();
        this.set({ state: "created" }, s.bytesCreated);
        this.set({ state: "sealed" }, s.bytesSealed);
      },
    });
    new Gauge({
      name: "plasma_eviction_policy",
      help: "The eviction policy in use (1 for the current one).",
      labelNames: ["policy"],
      registers: [r],
      collect() {
        this.reset();
        this.set({ policy: service.core.evictionPolicy }, 1);
      },
    });
    for (const [field, name, help] of COUNTERS) {
      new Counter({
        name,
        help,
        registers: [r],
        collect() {
          this.reset();
          this.inc(service.core.counters[field]);
        },
      });
    }
    const histogram = (op: LatencyOperation) =>
      new Histogram({
        name: `plasma_${op}_duration_seconds`,
        help: `Latency of ${op} requests on the Unix socket, from request to reply (waiting included).`,
        buckets: LATENCY_BUCKETS_SECONDS,
        registers: [r],
      });
    this.#latency = { create: histogram("create"), seal: histogram("seal"), get: histogram("get") };
    if (service.core.spillEnabled) registerSpillMetrics(r, service.core);
    this.close = service.cluster.enabled ? registerClusterMetrics(r, service.cluster) : () => {};
  }

  observeLatency(op: LatencyOperation, seconds: number): void {
    this.#latency[op].observe(seconds);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
