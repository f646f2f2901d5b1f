/** Waiting on an observable condition instead of sleeping for a guessed time. */

/**
 * Polls `probe` until it returns true; throws naming `what` after timeoutMs. The timeout is generous:
 * it only turns a hang into a failure with a message, it is not what the test measures. `what` may be a
 * function, for a message that shows the state at the timeout.
 */
export async function waitUntil(
  what: string | (() => string),
  probe: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting until ${typeof what === "string" ? what : what()}`);
    }
    await Bun.sleep(20);
  }
}
