// What the hostile client scripts share: finding the arena descriptor the store sent, and trying a call.
import { readdirSync, readlinkSync } from "node:fs";

/** The descriptor of the store's arena in this process (its /proc/self/fd link names plasma-arena). */
export function arenaFd(): number {
  for (const name of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${name}`).includes("plasma-arena")) return Number(name);
    } catch {
      // a descriptor closed while listing
    }
  }
  throw new Error("no arena descriptor in /proc/self/fd");
}

/** "ok" when `action` returns, else the thrown error's code (EPERM, EBADF, ...) or its text. */
export function attempt(action: () => unknown): string {
  try {
    action();
    return "ok";
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}
