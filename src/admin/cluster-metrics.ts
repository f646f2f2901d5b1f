import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { ClusterAdmin } from "./cluster-service.ts";
import type { ClusterDirectoryWriteEvent, ClusterMetricEvent, ClusterPullEvent } from "./cluster-view.ts";

/**
 * Prometheus metrics of the cluster: pulls (count by outcome, bytes, seconds, failures by reason),
 * directory writes (transactions and operations by outcome, seconds) and the live nodes. Registered only
 * when the store runs with a cluster.
 */

const PULL_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];
const WRITE_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** A failure reason as a label value: lowercase [a-z0-9_], at most 64 characters, never empty. */
export function reasonLabel(reason: string): string {
  const label = reason
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, "_")
    .slice(0, 64);
  return label === "" ? "unknown" : label;
}

const isDuration = (seconds: number) => Number.isFinite(seconds) && seconds >= 0;

type Observe<E> = (event: E) => void;

/** The pull series; returns what records one pull. */
function pullMetrics(registers: Registry[]): Observe<ClusterPullEvent> {
  const pulls = new Counter({
    name: "plasma_cluster_pulls_total",
    help: "Pulls of objects from other stores, by outcome (ok or failed).",
    labelNames: ["outcome"],
    registers,
  });
  const pullBytes = new Counter({
    name: "plasma_cluster_pull_bytes_total",
    help: "Bytes (data + metadata) that arrived from other stores, completed pulls or not.",
    registers,
  });
  const pullSeconds = new Histogram({
    name: "plasma_cluster_pull_seconds",
    help: "Duration of pulls from other stores, from dialling to the seal or the failure, by outcome.",
    labelNames: ["outcome"],
    buckets: PULL_BUCKETS_SECONDS,
    registers,
  });
  const pullFailures = new Counter({
    name: "plasma_cluster_pull_failures_total",
    help: "Failed pulls by reason (the error code, e.g. transfer_stalled, cluster_auth, store_full).",
    labelNames: ["reason"],
    registers,
  });
  for (const outcome of ["ok", "failed"]) pulls.inc({ outcome }, 0);
  return (event) => {
    const outcome = event.outcome === "ok" ? "ok" : "failed";
    pulls.inc({ outcome });
    if (Number.isFinite(event.bytes) && event.bytes > 0) pullBytes.inc(event.bytes);
    if (isDuration(event.seconds)) pullSeconds.observe({ outcome }, event.seconds);
    if (outcome === "failed") pullFailures.inc({ reason: reasonLabel(event.outcome) });
  };
}

/** The directory-write series; returns what records one transaction. */
function directoryWriteMetrics(registers: Registry[]): Observe<ClusterDirectoryWriteEvent> {
  const writes = new Counter({
    name: "plasma_cluster_directory_writes_total",
    help: "Transactions of directory writes (registrations, unregistrations) sent to etcd, by outcome.",
    labelNames: ["outcome"],
    registers,
  });
  const writeOps = new Counter({
    name: "plasma_cluster_directory_write_ops_total",
    help: "Keys put or deleted in directory write transactions, by outcome.",
    labelNames: ["outcome"],
    registers,
  });
  const writeSeconds = new Histogram({
    name: "plasma_cluster_directory_write_seconds",
    help: "Duration of directory write transactions, by outcome.",
    labelNames: ["outcome"],
    buckets: WRITE_BUCKETS_SECONDS,
    registers,
  });
  for (const outcome of ["ok", "error"]) {
    writes.inc({ outcome }, 0);
    writeOps.inc({ outcome }, 0);
  }
  return (event) => {
    const outcome = event.outcome === "ok" ? "ok" : "error";
    writes.inc({ outcome });
    if (Number.isFinite(event.ops) && event.ops > 0) writeOps.inc({ outcome }, event.ops);
    if (isDuration(event.seconds)) writeSeconds.observe({ outcome }, event.seconds);
  };
}

/** Registers the cluster metrics in `registry` and follows the cluster's events; returns the unsubscribe. */
export function registerClusterMetrics(registry: Registry, cluster: ClusterAdmin): () => void {
  const registers = [registry];
  const pull = pullMetrics(registers);
  const directoryWrite = directoryWriteMetrics(registers);
  new Gauge({
    name: "plasma_cluster_nodes",
    help: "Live nodes in the cluster's directory (read at most every 5 s).",
    registers,
    async collect() {
      this.set(await cluster.nodeCount());
    },
  });
  return cluster.onEvent((event: ClusterMetricEvent) => {
    if (event.kind === "pull") pull(event);
    else directoryWrite(event);
  });
}
