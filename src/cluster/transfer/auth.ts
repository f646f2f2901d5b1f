import { createHash, timingSafeEqual } from "node:crypto";

export type TokenVerdict = "ok" | "missing" | "wrong";

/** Checks the token a caller sent. Without an expected token every caller is accepted. */
export type TokenCheck = (given: Uint8Array) => TokenVerdict;

const digest = (bytes: Uint8Array): Buffer => createHash("sha256").update(bytes).digest();

/**
 * A constant-time token check: both sides are hashed to 32 bytes first, so neither the comparison
 * nor its length check reveals how much of the token, or how long a token, a caller guessed right.
 */
export function createTokenCheck(expectedToken: string | undefined): TokenCheck {
  if (expectedToken === undefined || expectedToken === "") return () => "ok";
  const expected = digest(new TextEncoder().encode(expectedToken));
  return (given) => {
    if (given.length === 0) return "missing";
    return timingSafeEqual(digest(given), expected) ? "ok" : "wrong";
  };
}
