/**
 * The store's composition root as the tests reach it: the plasma_store CLI script, the in-process
 * startStore and the CLI's parser. One place to follow when these files move.
 */
import { join } from "node:path";

export { parseBytes, parseCli, UsageError } from "../../src/store/config.ts";
export { type StoreHandle, type StoreOptions, startStore } from "../../src/store/index.ts";

/** The plasma_store command-line entry point, run as `bun STORE_CLI ...`. */
export const STORE_CLI = join(import.meta.dir, "../../src/store/cli.ts");
