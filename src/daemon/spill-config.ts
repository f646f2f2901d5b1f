/** The spill flags of plasma_store (issue 16): --spill-dir / -e file://DIR, --spill-max, --spill-on-stop. */
import { parseBytes } from "../cli-support/bytes.ts";
import { UsageError } from "../cli-support/usage-error.ts";

export interface SpillConfig {
  /** The spill directory (created if missing). */
  directory: string;
  /** Disk budget in bytes; absent: the directory's free space at start minus 5%. */
  maxBytes?: number;
  /** On SIGTERM/SIGINT, spill every sealed object before exiting. */
  onStop: boolean;
}

export const SPILL_PARSE_OPTIONS = {
  "spill-dir": { type: "string" },
  "external-store": { type: "string", short: "e" },
  "spill-max": { type: "string" },
  "spill-on-stop": { type: "boolean" },
} as const;

export const SPILL_USAGE = `      --spill-dir DIR      spill evicted objects to files in DIR (created if missing) and restore them
                           on get; they survive a restart with the same DIR
  -e, --external-store file://DIR   Plasma's spelling of --spill-dir DIR (only file:// is supported)
      --spill-max BYTES    disk budget of the spill files (default: DIR's free space at start - 5%)
      --spill-on-stop      on SIGTERM/SIGINT, spill every sealed object before exiting`;

type Values = Record<string, string | string[] | boolean | undefined>;

/** The spill configuration, or undefined when spilling is off; throws UsageError. */
export function parseSpillFlags(v: Values, env: Record<string, string | undefined>): SpillConfig | undefined {
  const text = (name: string): string | undefined => {
    const value = v[name];
    return typeof value === "string" ? value : undefined;
  };
  const external = text("external-store");
  const fromExternal = external === undefined ? undefined : externalStoreDirectory(external);
  const flagDir = text("spill-dir");
  if (flagDir !== undefined && fromExternal !== undefined && flagDir !== fromExternal) {
    throw new UsageError(
      `--spill-dir ${flagDir} and -e ${external} name two spill directories; give one of them.`,
    );
  }
  const directory = flagDir ?? fromExternal ?? (env.PLASMA_SPILL_DIR || undefined);
  const maxText = text("spill-max") ?? (env.PLASMA_SPILL_MAX || undefined);
  const onStop = v["spill-on-stop"] === true;
  if (directory === undefined) {
    if (text("spill-max") !== undefined || onStop) {
      throw new UsageError("--spill-max and --spill-on-stop need a spill directory (--spill-dir DIR).");
    }
    return undefined;
  }
  if (directory.trim() === "") throw new UsageError("--spill-dir takes a directory path.");
  const config: SpillConfig = { directory, onStop };
  if (maxText !== undefined) config.maxBytes = parseBytes(maxText, "--spill-max");
  return config;
}

/** DIR of `-e file://DIR`; other schemes (Plasma's hashtable://, s3://…) are refused. */
function externalStoreDirectory(url: string): string {
  const match = /^file:\/\/(.+)$/.exec(url);
  if (match === null) {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1];
    throw new UsageError(
      `-e ${url}: ${scheme === undefined ? "not a URL" : `the ${scheme}:// external store is not supported`}; bun-plasma spills to a directory: -e file:///path/to/dir (or --spill-dir DIR).`,
    );
  }
  return match[1] as string;
}
