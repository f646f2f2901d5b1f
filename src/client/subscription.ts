import type { PlasmaConnectionError } from "../protocol/errors.ts";
import type { ObjectNotification } from "./client.ts";

/**
 * An async iterable over the notifications of one subscribe(). Notifications queue until read; the
 * iteration ends with the connection's error when the connection closes, or normally after `return()`.
 */
export class Subscription implements AsyncIterable<ObjectNotification>, AsyncIterator<ObjectNotification> {
  readonly #queue: ObjectNotification[] = [];
  #head = 0;
  #waiting: { resolve: (r: IteratorResult<ObjectNotification>) => void; reject: (e: Error) => void } | null =
    null;
  #error: PlasmaConnectionError | null = null;
  #done = false;
  readonly #onEnd: () => void;

  constructor(onEnd: () => void) {
    this.#onEnd = onEnd;
  }

  push(note: ObjectNotification): void {
    if (this.#done) return;
    const waiting = this.#waiting;
    if (waiting !== null) {
      this.#waiting = null;
      waiting.resolve({ value: note, done: false });
      return;
    }
    this.#queue.push(note);
  }

  fail(error: PlasmaConnectionError): void {
    if (this.#done) return;
    this.#error = error;
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.reject(error);
  }

  next(): Promise<IteratorResult<ObjectNotification>> {
    if (this.#head < this.#queue.length) {
      const value = this.#queue[this.#head++] as ObjectNotification;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue.splice(0, this.#head);
        this.#head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    if (this.#error !== null) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<ObjectNotification>> {
    this.#done = true;
    this.#queue.length = 0;
    this.#head = 0;
    this.#waiting?.resolve({ value: undefined, done: true });
    this.#waiting = null;
    this.#onEnd();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<ObjectNotification> {
    return this;
  }
}
