/**
 * Remote gets: the store core asks (MissingObjectSource) for an object it does not hold; this looks the
 * id up in the directory, pulls it from a holder into an unsealed local object (chunks written at their
 * offsets into the arena), seals it when every byte arrived, aborts on failure and tries the next holder.
 * With no holder yet it waits for one (a watch) until the longest waiting get's timeout. One pull per id:
 * the core asks once per key while a fetch runs, and every get of that id waits on the same seal.
 */
import type { Logger } from "../log.ts";
import { LimitExceededError, PlasmaError, StoreFullError } from "../protocol/errors.ts";
import { ObjectID } from "../protocol/object-id.ts";
import type { ArenaAccess } from "../store/arena-access.ts";
import type { MissingObjectSource } from "../store/object-sources.ts";
import type { StoreCore } from "../store/store.ts";
import { ClusterUnavailableError } from "./errors.ts";
import type { ClusterMembership } from "./membership.ts";
import { type PullOptions, pullObject } from "./transfer/client.ts";
import type { TransferClientTls } from "./transfer/config.ts";
import type { PullSink, PullTarget } from "./transfer/types.ts";

export interface PullManagerOptions {
  readonly core: StoreCore;
  readonly access: ArenaAccess;
  readonly membership: ClusterMembership;
  readonly token: string | undefined;
  readonly tls: TransferClientTls | undefined;
  readonly pull: Omit<PullOptions, "tls" | "logger">;
  readonly logger: Logger;
  /**
   * Where a node's transfer service is, or null if it is not live: possibly cached, read from the
   * directory when `fresh` (after a pull from the cached address failed).
   */
  readonly addressOf: (nodeName: string, fresh: boolean) => Promise<string | null>;
  /** Each pull as it ends (for the admin plane's metrics). */
  readonly onPull: (bytes: number, seconds: number, outcome: string) => void;
}

/** Errors that refuse the pull for every holder alike: the get fails with them. */
function isLocalRefusal(error: unknown): error is PlasmaError {
  return error instanceof StoreFullError || error instanceof LimitExceededError;
}

type PullOutcome = "pulled" | "next" | PlasmaError;

export class PullManager implements MissingObjectSource {
  readonly #o: PullManagerOptions;
  #closed = false;
  /** Pulls started (one per object fetched from a holder, however many gets wait for it). */
  pullsStarted = 0;

  constructor(options: PullManagerOptions) {
    this.#o = options;
  }

  request(key: string, id: Uint8Array, waitMs: number): boolean {
    if (this.#closed) return false;
    const objectId = new ObjectID(id);
    void this.#fetch(key, objectId, waitMs).then(
      (outcome) => this.#o.core.sourceFinished(key, outcome),
      (error: unknown) => {
        this.#o.logger.error({ id: objectId.hex(), err: (error as Error).message }, "remote get failed");
        this.#o.core.sourceFinished(key, null);
      },
    );
    return true;
  }

  close(): void {
    this.#closed = true;
  }

  /** null when the object is here now or nobody has it; the error that fails its gets otherwise. */
  async #fetch(key: string, id: ObjectID, waitMs: number): Promise<PlasmaError | null> {
    await Promise.resolve(); // the core must see request() return before sourceFinished
    const deadlineMs = waitMs < 0 ? Number.POSITIVE_INFINITY : performance.now() + waitMs;
    const idHex = id.hex();
    const tried = new Set<string>([this.#o.membership.nodeName]);
    for (;;) {
      if (this.#closed || this.#o.core.entry(key) !== undefined) return null;
      const holders = (await this.#locate(idHex)).filter((name) => !tried.has(name));
      for (const holder of holders) {
        tried.add(holder);
        const outcome = await this.#pullFrom(holder, key, id);
        if (outcome === "pulled") return null;
        if (outcome instanceof PlasmaError) return outcome;
      }
      if (holders.length > 0) continue; // every holder failed: look again, someone else may hold it now
      const remainingMs = deadlineMs - performance.now();
      if (remainingMs <= 0) return null;
      const timeoutMs = remainingMs === Number.POSITIVE_INFINITY ? -1 : Math.ceil(remainingMs);
      const appeared = await this.#o.membership.waitForObject(idHex, timeoutMs);
      // Nobody new (the timeout, or only holders that failed already, whose entries outlive them until
      // their lease expires): give up; the gets answer at their own timeouts.
      if (!appeared.some((name) => !tried.has(name))) return null;
    }
  }

  async #locate(idHex: string): Promise<string[]> {
    try {
      return (await this.#o.membership.locate([idHex])).get(idHex) ?? [];
    } catch (error) {
      if (error instanceof ClusterUnavailableError) return []; // logged once per outage by the membership
      throw error;
    }
  }

  /**
   * "pulled", a refusal that fails the get (StoreFullError, ...), or "next" to try another holder. A pull
   * at the cached address that fails is tried once more at the directory's address if that differs.
   */
  async #pullFrom(holder: string, key: string, id: ObjectID): Promise<PullOutcome> {
    const cached = await this.#o.addressOf(holder, false).catch(() => null);
    const outcome = cached === null ? "next" : await this.#pullAt(holder, cached, key, id);
    if (outcome !== "next" || this.#closed) return outcome;
    const fresh = await this.#o.addressOf(holder, true).catch(() => null);
    if (fresh === null || fresh === cached) return "next";
    return this.#pullAt(holder, fresh, key, id);
  }

  async #pullAt(holder: string, address: string, key: string, id: ObjectID): Promise<PullOutcome> {
    if (this.#o.core.entry(key) !== undefined) return "pulled"; // here already (a get raced the retry)
    const startMs = performance.now();
    const sink = new ArenaPullSink(this.#o.core, this.#o.access, key, id);
    this.pullsStarted++;
    const seconds = () => (performance.now() - startMs) / 1000;
    try {
      const result = await pullObject(address, this.#o.token, id, sink, {
        ...this.#o.pull,
        tls: this.#o.tls,
        logger: this.#o.logger,
      });
      if (result.status === "pulled") {
        this.#o.onPull(result.dataSize + result.metadataSize, seconds(), "ok");
        return "pulled";
      }
      this.#o.onPull(0, seconds(), "NOT_AVAILABLE");
      return "next";
    } catch (error) {
      const code = error instanceof PlasmaError ? error.code : "PLASMA_ERROR";
      this.#o.onPull(sink.bytesWritten, seconds(), code);
      if (isLocalRefusal(error)) return error;
      this.#o.logger.warn(
        { id: id.hex(), holder, address, err: (error as Error).message },
        "pull from a holder failed; trying another",
      );
      return "next";
    }
  }
}

/** Where a pull writes: an unsealed object of the core's own, filled in the arena, sealed or aborted. */
class ArenaPullSink implements PullSink {
  bytesWritten = 0;
  constructor(
    readonly core: StoreCore,
    readonly access: ArenaAccess,
    readonly key: string,
    readonly id: ObjectID,
  ) {}

  begin(dataSize: number, metadataSize: number): PullTarget | PlasmaError {
    let offset: number;
    try {
      offset = this.core.createForSource({ id: this.id.bytes, key: this.key, dataSize, metadataSize }).offset;
    } catch (error) {
      return error instanceof PlasmaError ? error : new PlasmaError(String(error));
    }
    return {
      write: (from, bytes) => {
        this.access.write(offset + from, bytes);
        this.bytesWritten += bytes.length;
      },
      commit: () => {
        this.core.sealForSource(this.key);
      },
      abort: () => this.core.abortForSource(this.key),
    };
  }
}
