/**
 * The socket edge's part of directory reads: one pin table per connection (created at its Welcome, handed
 * to the core at its Hello, unmapped when it closes), and the timer that frees objects whose pins went
 * while nobody said so (a client that unpinned and then died, a lost PinsReleased).
 */
import type { Logger } from "../log.ts";
import {
  closeRegion,
  createPinTableRegion,
  type MappedRegion,
  type PinTableRegion,
} from "./directory-regions.ts";
import type { StoreCore } from "./store.ts";

/** How often the store scans the pin tables again while removals wait for pins. */
export const RECLAIM_INTERVAL_MS = 20;

export interface DirectoryReadsOptions {
  /** The directory region (the core's SharedReads writes it); its fd goes to every client. */
  readonly directory: MappedRegion;
  /** Pin slots per client table. */
  readonly pinSlots: number;
}

export class DirectoryEdge {
  readonly #core: StoreCore;
  readonly #options: DirectoryReadsOptions;
  readonly #log: Logger;
  readonly #tables = new Map<number, PinTableRegion>();
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(core: StoreCore, options: DirectoryReadsOptions, log: Logger) {
    this.#core = core;
    this.#options = options;
    this.#log = log;
  }

  get directoryFd(): number {
    return this.#options.directory.fd;
  }

  /** A new pin table for the connection of `clientId`; null (socket reads only) if it cannot be made. */
  openTable(clientId: number): PinTableRegion | null {
    try {
      const table = createPinTableRegion(this.#options.pinSlots);
      this.#tables.set(clientId, table);
      return table;
    } catch (error) {
      this.#log.warn({ clientId, err: (error as Error).message }, "could not create a pin table");
      return null;
    }
  }

  /** The client said Hello: its pins count from now on. */
  attach(clientId: number): void {
    const table = this.#tables.get(clientId);
    if (table !== undefined) this.#core.attachPinTable(clientId, table.view);
  }

  /** The connection closed (the core dropped the table at disconnect, or never had it): unmap it. */
  closeTable(clientId: number): void {
    const table = this.#tables.get(clientId);
    if (table === undefined) return;
    this.#tables.delete(clientId);
    closeRegion(table);
  }

  start(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => {
      if (this.#core.retiringCount > 0) this.#core.reclaimPins();
    }, RECLAIM_INTERVAL_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}
