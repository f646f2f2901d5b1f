/** Time and timers, injected into the store core so tests can drive it without real waiting. */
export interface Clock<Handle = unknown> {
  /** Epoch ms, like Date.now(). */
  now(): number;
  /** Monotonic ms. */
  monotonicMs(): number;
  setTimeout(callback: () => void, ms: number): Handle;
  clearTimeout(handle: Handle): void;
}

export const systemClock: Clock<ReturnType<typeof setTimeout>> = {
  now: () => Date.now(),
  monotonicMs: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle),
};
