import { type PlasmaConnectionError, SubscriptionOverflowError } from "../protocol/errors.ts";
import type { ObjectNotification } from "./client.ts";

/**
 * Default bound of a subscription's queue of unread notifications: about 190 MB of queued notifications
 * (some 190 bytes each), and room for the first batch of a store holding up to a million sealed objects.
 */
export const DEFAULT_MAX_QUEUED_NOTIFICATIONS = 1_000_000;

/**
 * An async iterable over the notifications of one subscribe(). Notifications queue until read, at most
 * `maxQueued` of them: the one after that ends the subscription with a SubscriptionOverflowError, which
 * the iteration throws once the queued notifications are read (nothing is dropped silently; notifications
 * after the overflow are not kept). The iteration also ends with the connection's error when the
 * connection closes, or normally after `return()`.
 */
export class Subscription implements AsyncIterable<ObjectNotification>, AsyncIterator<ObjectNotification> {
  readonly #queue: ObjectNotification[] = [];
  #head = 0;
  #waiting: { resolve: (r: IteratorResult<ObjectNotification>) => void; reject: (e: Error) => void } | null =
    null;
  #error: PlasmaConnectionError | SubscriptionOverflowError | null = null;
  #done = false;
  readonly #maxQueued: number;
  readonly #onEnd: () => void;

  constructor(onEnd: () => void, maxQueued = DEFAULT_MAX_QUEUED_NOTIFICATIONS) {
    this.#onEnd = onEnd;
    this.#maxQueued = maxQueued;
  }

  /** False once the subscription takes no more notifications (returned, overflowed or failed). */
  get accepting(): boolean {
    return !this.#done && this.#error === null;
  }

  /** Notifications received and not read yet. */
  get queuedCount(): number {
    return this.#queue.length - this.#head;
  }

  push(note: ObjectNotification): void {
    if (!this.accepting) return;
    const waiting = this.#waiting;
    if (waiting !== null) {
      this.#waiting = null;
      waiting.resolve({ value: note, done: false });
      return;
    }
    if (this.queuedCount >= this.#maxQueued) {
      this.#error = new SubscriptionOverflowError(
        `A subscriber left ${this.#maxQueued} notifications unread, the most its subscription may queue; the subscription ended there. Read notifications as they come, or raise subscribe's maxQueuedNotifications.`,
      );
      this.#onEnd();
      return;
    }
    this.#queue.push(note);
  }

  fail(error: PlasmaConnectionError): void {
    if (!this.accepting) return;
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
