import pino, { type Logger } from "pino";
import pretty from "pino-pretty";

export type { Logger };

/**
 * The process-wide pino logger. Pretty-printed when stdout is a terminal, JSON lines otherwise.
 * Level from PLASMA_LOG_LEVEL (default "info"). pino transports break inside compiled binaries, so the
 * pretty stream is created in-process.
 */
export function createLogger(name: string, level = process.env.PLASMA_LOG_LEVEL ?? "info"): Logger {
  if (process.stdout.isTTY) {
    return pino({ name, level }, pretty({ colorize: true, translateTime: "SYS:HH:MM:ss.l" }));
  }
  return pino({ name, level });
}

/** A logger that drops everything: the default for library code (the client) unless one is passed in. */
export const silentLogger: Logger = pino({ level: "silent" });
