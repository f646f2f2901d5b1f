import { PlasmaError } from "../protocol/errors.ts";

/** A bad command line or setting; the CLIs print the message and their usage and exit 2. */
export class UsageError extends PlasmaError {
  constructor(message: string) {
    super(message, "USAGE_ERROR");
  }
}
