import type { Clock } from "../../src/store/clock.ts";

/** A clock whose time moves only when the test says so. */
export class FakeClock implements Clock<number> {
  #now = 1_700_000_000_000;
  #mono = 0;
  #nextHandle = 1;
  readonly #timers = new Map<number, { at: number; callback: () => void }>();

  now(): number {
    return this.#now;
  }
  monotonicMs(): number {
    return this.#mono;
  }
  setTimeout(callback: () => void, ms: number): number {
    const handle = this.#nextHandle++;
    this.#timers.set(handle, { at: this.#mono + ms, callback });
    return handle;
  }
  clearTimeout(handle: number): void {
    this.#timers.delete(handle);
  }
  get pendingTimers(): number {
    return this.#timers.size;
  }
  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const target = this.#mono + ms;
    for (;;) {
      let next: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.#timers)
        if (entry[1].at <= target && (next === undefined || entry[1].at < next[1].at)) next = entry;
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.#now += next[1].at - this.#mono;
      this.#mono = next[1].at;
      next[1].callback();
    }
    this.#now += target - this.#mono;
    this.#mono = target;
  }
}
