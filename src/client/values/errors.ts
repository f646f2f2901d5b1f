import { PlasmaError } from "../../protocol/errors.ts";

/**
 * Bad input to the values API: a value put() cannot store, a tensor whose shape does not fit its data, a
 * buffer too small for what is written into it. Nothing was stored.
 */
export class InvalidValueError extends PlasmaError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, "INVALID_VALUE", options);
  }
}

/** A stored value whose format this client cannot read, or whose bytes are corrupt. */
export class ValueFormatError extends PlasmaError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, "VALUE_FORMAT", options);
  }
}

/** The message of an unknown thrown thing. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
