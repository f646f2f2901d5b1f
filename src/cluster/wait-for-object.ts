/**
 * Waits until some node registers an object: range its prefix once, then watch from the revision after
 * it, so a registration between the two is not missed. Resolves with the holders, or [] at the timeout;
 * etcd being away only means trying again (with backoff) until then.
 */
import type { Cancel, ClusterDirectoryBackend } from "./etcd/backend.ts";
import type { OutageTracker } from "./outage.ts";

export interface WaitForObjectOptions {
  readonly backend: ClusterDirectoryBackend;
  readonly prefix: string;
  /** -1: no timeout. */
  readonly timeoutMs: number;
  /** Node names from directory keys (invalid keys dropped). */
  readonly holders: (keys: readonly string[]) => string[];
  readonly outage: OutageTracker;
  /** The owner's set of live waits: cancelling one resolves it with []. */
  readonly cancels: Set<Cancel>;
}

const MAX_RETRY_MS = 2000;

export function waitForObject(options: WaitForObjectOptions): Promise<string[]> {
  const { backend, prefix, timeoutMs, holders, outage, cancels } = options;
  return new Promise((resolve) => {
    let done = false;
    let stopWatch: Cancel = () => {};
    let retryTimer: ReturnType<typeof setTimeout> | undefined;
    let retryMs = 100;
    const finish = (names: string[]): void => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      clearTimeout(retryTimer);
      stopWatch();
      cancels.delete(cancel);
      resolve(names);
    };
    const cancel = (): void => finish([]);
    const retry = (): void => {
      stopWatch();
      if (done) return;
      retryTimer = setTimeout(attempt, retryMs);
      retryMs = Math.min(MAX_RETRY_MS, retryMs * 2);
    };
    const attempt = async (): Promise<void> => {
      try {
        const range = await backend.get(prefix);
        outage.succeeded();
        if (done) return;
        const now = holders(range.kvs.map((kv) => kv.key));
        if (now.length > 0) return finish(now);
        stopWatch = backend.watch(prefix, range.revision + 1, {
          onEvent(event) {
            const names = event.type === "put" ? holders([event.key]) : [];
            if (names.length > 0) finish(names);
          },
          onError(error, fatal) {
            outage.failed(error);
            if (fatal) retry(); // compacted: range again
          },
          onConnected: () => outage.succeeded(),
        });
      } catch (error) {
        outage.failed(error);
        retry();
      }
    };
    const deadline = timeoutMs < 0 ? undefined : setTimeout(() => finish([]), timeoutMs);
    cancels.add(cancel);
    void attempt();
  });
}
