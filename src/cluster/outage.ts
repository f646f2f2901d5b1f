/** Turns a stream of etcd failures and successes into one warning per outage (not one per call). */
import type { Logger } from "../log.ts";
import { ClusterUnavailableError } from "./errors.ts";

export class OutageTracker {
  readonly #logger: Logger;
  readonly #endpoints: readonly string[];
  #sinceMs: number | null = null;

  constructor(logger: Logger, endpoints: readonly string[]) {
    this.#logger = logger;
    this.#endpoints = endpoints;
  }

  get inOutage(): boolean {
    return this.#sinceMs !== null;
  }

  /** A call failed; only "unreachable" failures start an outage, others are the caller's to report. */
  failed(error: unknown): void {
    if (!(error instanceof ClusterUnavailableError) || this.#sinceMs !== null) return;
    this.#sinceMs = Date.now();
    this.#logger.warn(
      { endpoints: this.#endpoints, err: error.message },
      "cluster directory (etcd) unreachable: local operations go on, remote gets answer at their timeout, " +
        "registrations are sent when etcd is back; check etcd and --cluster-etcd",
    );
  }

  /** A call succeeded: an outage, if any, is over. */
  succeeded(): void {
    if (this.#sinceMs === null) return;
    this.#logger.info({ outageMs: Date.now() - this.#sinceMs }, "cluster directory (etcd) reachable again");
    this.#sinceMs = null;
  }
}
