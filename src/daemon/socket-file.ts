import { chmodSync, chownSync, existsSync, unlinkSync } from "node:fs";
import { isSocketListening } from "../ffi/index.ts";
import type { Logger } from "../log.ts";
import { PlasmaError } from "../protocol/errors.ts";
import type { StoreServer } from "../store/server.ts";

/** The socket file of the store: who may open it, and what to do with one left behind. */

/** Socket permissions unless told otherwise: only the store's own user may connect. */
export const DEFAULT_SOCKET_MODE = 0o600;

/** The store is already running on the socket path. */
export class StoreAlreadyRunningError extends PlasmaError {
  constructor(socketPath: string) {
    super(
      `Another plasma_store is already listening on ${socketPath}; stop it or pick another socket with -s.`,
      "STORE_ALREADY_RUNNING",
    );
  }
}

/** A stale socket file is replaced; a live store on the path is an error. */
export function prepareSocketPath(socketPath: string, log: Logger): void {
  if (!existsSync(socketPath)) return;
  if (isSocketListening(socketPath)) throw new StoreAlreadyRunningError(socketPath);
  log.warn({ socket: socketPath }, "removing a stale socket file nobody listens on");
  unlinkSync(socketPath);
}

/**
 * Creates the socket under a umask that lets nobody but the store's user in; `setSocketAccess` then hands
 * it to the group and widens it to the mode asked: there is no moment when it is more open than asked.
 */
export function listenPrivately(server: StoreServer): void {
  const previous = process.umask(0o177);
  try {
    server.listen();
  } finally {
    process.umask(previous);
  }
}

/** Gives the socket file its group and mode (after `listenPrivately`). */
export function setSocketAccess(socketPath: string, mode: number, gid: number | undefined): void {
  try {
    if (gid !== undefined) chownSync(socketPath, -1, gid);
    chmodSync(socketPath, mode);
  } catch (error) {
    throw new PlasmaError(
      `Could not set the owner group or mode of socket ${socketPath}: ${(error as Error).message}. Check --socket-group and --socket-mode.`,
    );
  }
}

/** Removes the socket file if it is still there. */
export function removeSocketFile(socketPath: string): void {
  try {
    unlinkSync(socketPath);
  } catch {
    // Already gone.
  }
}
