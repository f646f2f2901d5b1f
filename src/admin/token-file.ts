import { randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { UsageError } from "../cli-support/usage-error.ts";
import { PlasmaError } from "../protocol/errors.ts";
import type { AdminOptions } from "./config.ts";

/**
 * The admin token file: with no --admin-token (and no --admin-insecure) the store makes up a token at
 * start and writes it next to its socket, readable by exactly the users the socket lets in, so the admin
 * plane grants nothing the socket does not. plasma-admin reads it from there.
 */

/** Where the store writes its generated admin token: `<socket>.admin-token`. */
export function adminTokenPathOf(socketPath: string): string {
  return `${socketPath}.admin-token`;
}

/** 32 random bytes, base64url (43 characters). */
export function generateAdminToken(): string {
  return randomBytes(32).toString("base64url");
}

/** Who may read the token file: derived from who may connect to the socket. */
export interface TokenFileAccess {
  /** Permissions of the file (0o600, 0o640, 0o644...). */
  mode: number;
  /** Group owning the file (the socket's --socket-group), or undefined for the store's own. */
  gid?: number;
}

/**
 * Read access for whoever may connect: the owner always; the group when the socket grants the group
 * write (connecting to a Unix socket needs write permission); others when it grants others write. With
 * --allow-uid the socket admits single uids no file mode can name, so only the owner may read.
 */
export function tokenFileAccessOf(
  socketMode: number,
  socketGroup: number | undefined,
  allowUids: readonly number[] | undefined,
): TokenFileAccess {
  if (allowUids !== undefined && allowUids.length > 0) return { mode: 0o600 };
  let mode = 0o600;
  if ((socketMode & 0o020) !== 0) mode |= 0o040;
  if ((socketMode & 0o002) !== 0) mode |= 0o004;
  return { mode, gid: (mode & 0o040) !== 0 ? socketGroup : undefined };
}

/**
 * Writes the token into a new file (a leftover from a store that died is replaced; a symlink or a file
 * created in between is never followed or reused), created 0600 and only then given its group and mode.
 */
export function writeAdminTokenFile(path: string, token: string, access: TokenFileAccess): void {
  removeAdminTokenFile(path);
  let fd: number;
  try {
    fd = openSync(
      path,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
  } catch (error) {
    throw new PlasmaError(
      `Could not create the admin token file ${path}: ${(error as Error).message}. Pick a socket path in a directory only the store's user can write, or pass --admin-token.`,
    );
  }
  try {
    if (access.gid !== undefined) fchownSync(fd, -1, access.gid);
    fchmodSync(fd, access.mode);
    writeSync(fd, `${token}\n`);
  } catch (error) {
    closeSync(fd);
    removeAdminTokenFile(path);
    throw new PlasmaError(`Could not write the admin token file ${path}: ${(error as Error).message}.`);
  }
  closeSync(fd);
}

/** Removes the token file if it is still there. */
export function removeAdminTokenFile(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}

/** The token in a token file (first line, trimmed), or null when the file cannot be read or is empty. */
export function readAdminTokenFile(path: string): string | null {
  try {
    const token = readFileSync(path, "utf8").split("\n")[0]?.trim() ?? "";
    return token === "" ? null : token;
  } catch {
    return null;
  }
}

/** A token the store made up, and the file it is in. */
export interface GeneratedAdminToken {
  readonly token: string;
  readonly path: string;
}

/**
 * Makes up the admin token and writes its file when the admin plane is on and neither a token nor
 * --admin-insecure was given; null otherwise (nothing written). The caller removes the file at stop.
 */
export function provisionAdminToken(
  options: Pick<AdminOptions, "grpc" | "http" | "token" | "insecure">,
  socketPath: string,
  access: TokenFileAccess,
): GeneratedAdminToken | null {
  if (options.token || options.insecure === true) return null;
  if (options.grpc === null && options.http === null) return null;
  const generated = { token: generateAdminToken(), path: adminTokenPathOf(socketPath) };
  writeAdminTokenFile(generated.path, generated.token, access);
  return generated;
}

/** The socket plasma_store listens on unless told otherwise (the daemon's and the client's default). */
export const DEFAULT_STORE_SOCKET = "/tmp/plasma";

/** Where plasma-admin's token comes from, in the order asked. */
export interface AdminTokenSources {
  token?: string;
  tokenFile?: string;
  socketPath?: string;
}

/**
 * plasma-admin's token: --token, else --token-file (which must be readable), else PLASMA_ADMIN_TOKEN,
 * else PLASMA_ADMIN_TOKEN_FILE, else the file the store wrote next to its socket (--socket, PLASMA_SOCKET,
 * /tmp/plasma) if this user can read it; undefined when none (a store run with --admin-insecure).
 */
export function resolveAdminClientToken(
  flags: AdminTokenSources,
  env: Record<string, string | undefined>,
): string | undefined {
  if (flags.token) return flags.token;
  if (flags.tokenFile !== undefined) return mustReadToken(flags.tokenFile, "--token-file");
  if (env.PLASMA_ADMIN_TOKEN) return env.PLASMA_ADMIN_TOKEN;
  if (env.PLASMA_ADMIN_TOKEN_FILE)
    return mustReadToken(env.PLASMA_ADMIN_TOKEN_FILE, "PLASMA_ADMIN_TOKEN_FILE");
  const socketPath = flags.socketPath ?? (env.PLASMA_SOCKET || DEFAULT_STORE_SOCKET);
  return readAdminTokenFile(adminTokenPathOf(socketPath)) ?? undefined;
}

function mustReadToken(path: string, what: string): string {
  const token = readAdminTokenFile(path);
  if (token === null) {
    throw new UsageError(
      `${what}: cannot read a token from ${path} (missing, empty or not readable by this user).`,
    );
  }
  return token;
}
