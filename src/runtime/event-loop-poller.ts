/**
 * Keeps Bun's event loop turning, one setImmediate after another (each turn polls the sockets without
 * blocking), for a window after the last `poll()` call and while `wanted()` holds. A process that polls is
 * awake when its peer's next frame arrives, instead of paying for the wake-up of an idle CPU (about 20 µs
 * on a VM). It costs up to the window in CPU, so callers poll only while there is a CPU to spare.
 */
export class EventLoopPoller {
  readonly #wanted: () => boolean;
  #sinceNs = 0;
  #windowNs = 0;
  #running = false;

  constructor(wanted: () => boolean) {
    this.#wanted = wanted;
  }

  /** Polls for `windowUs` from now (extending a running window); 0 or less does nothing. */
  poll(windowUs: number): void {
    if (windowUs <= 0) return;
    this.#sinceNs = Bun.nanoseconds();
    this.#windowNs = windowUs * 1000;
    if (this.#running) return;
    this.#running = true;
    setImmediate(this.#turn);
  }

  readonly #turn = (): void => {
    if (this.#wanted() && Bun.nanoseconds() - this.#sinceNs < this.#windowNs) {
      setImmediate(this.#turn);
      return;
    }
    this.#running = false;
  };
}
