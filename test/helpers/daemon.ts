/**
 * The store's composition root as the tests reach it: the plasma_store CLI script, the in-process
 * startStore and the CLI's parser. One place to follow when these files move.
 */
import { join } from "node:path";

export { parseBytes } from "../../src/cli-support/bytes.ts";
export { UsageError } from "../../src/cli-support/usage-error.ts";
export { parseCli } from "../../src/daemon/config.ts";
export { type StoreHandle, type StoreOptions, startStore } from "../../src/daemon/index.ts";

/** The plasma_store command-line entry point, run as `bun STORE_CLI ...`. */
export const STORE_CLI = join(import.meta.dir, "../../src/daemon/cli.ts");
