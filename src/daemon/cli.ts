#!/usr/bin/env bun
import { UsageError } from "../cli-support/usage-error.ts";
import { createLogger } from "../log.ts";
import { parseCli, USAGE } from "./config.ts";
import { type StoreHandle, startStore } from "./start.ts";

/** plasma_store: parse flags, start the store, stop cleanly on SIGINT/SIGTERM. */
async function main(): Promise<number> {
  let config: ReturnType<typeof parseCli>;
  try {
    config = parseCli(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`plasma_store: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (config.help) {
    console.log(USAGE);
    return 0;
  }
  const log = createLogger("plasma_store");
  // Signal handlers go in before the store starts: a SIGTERM that arrives right after "plasma_store
  // started" is logged must still stop it cleanly (exit 0, socket removed), not kill it.
  let signalled: NodeJS.Signals | null = null;
  let onSignal: (signal: NodeJS.Signals) => void = (signal) => {
    signalled = signal;
  };
  const handler = (signal: NodeJS.Signals) => onSignal(signal);
  process.once("SIGINT", handler);
  process.once("SIGTERM", handler);
  let store: StoreHandle;
  try {
    store = await startStore({ ...config.options, logger: log });
  } catch (error) {
    log.fatal({ err: (error as Error).message }, "plasma_store could not start");
    console.error(`plasma_store: ${(error as Error).message}`);
    return 1;
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      log.info({ signal }, "stopping");
      store.stop().then(resolve, (error) => {
        log.error({ err: (error as Error).message }, "error while stopping");
        resolve();
      });
    };
    onSignal = stop;
    if (signalled !== null) stop(signalled);
  });
  return 0;
}

process.exit(await main());
