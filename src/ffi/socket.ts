/** Unix stream sockets made through libc: blocking connect, peer credentials, socket pairs. */
import { closeFd } from "./fd.ts";
import { check, ERRNO, errno, libc, SystemError } from "./libc.ts";
import { scratch } from "./struct.ts";

export { setNonBlocking } from "./fd.ts";

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
const SOCKADDR_UN_SIZE = 110; // sa_family_t (u16) + sun_path[108]
/** The longest pathname sun_path holds with its terminating NUL. */
export const MAX_UNIX_PATH_BYTES = 107;

const encoder = new TextEncoder();
const address = scratch(SOCKADDR_UN_SIZE);

/** Fill the sockaddr_un scratch; a path starting with "\0" is an abstract address. Returns the addrlen. */
function sockaddrUn(path: string): number {
  const bytes = encoder.encode(path);
  const abstract = bytes[0] === 0;
  if (bytes.length === 0) throw new RangeError("Unix socket path is empty");
  if (bytes.length > (abstract ? MAX_UNIX_PATH_BYTES + 1 : MAX_UNIX_PATH_BYTES)) {
    throw new RangeError(
      `Unix socket path is ${bytes.length} bytes; the limit is ${MAX_UNIX_PATH_BYTES}: ${JSON.stringify(path)}`,
    );
  }
  if (!abstract && bytes.includes(0))
    throw new RangeError("Unix socket path must not contain a NUL character");
  address.bytes.fill(0);
  address.view.setUint16(0, AF_UNIX, true);
  address.bytes.set(bytes, 2);
  return abstract ? 2 + bytes.length : SOCKADDR_UN_SIZE;
}

/** A new blocking, close-on-exec SOCK_STREAM socket connected to `path`. Throws SystemError (ENOENT, ECONNREFUSED…). */
export function connectUnix(path: string): number {
  const addrlen = sockaddrUn(path);
  const fd = check("socket", libc.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  for (;;) {
    if (libc.connect(fd, address.bytes, addrlen) === 0) return fd;
    const code = errno();
    if (code === ERRNO.EINTR) continue; // a Unix socket connect is not left in progress
    closeFd(fd);
    throw new SystemError("connect", code, path);
  }
}

/** True when something accepts connections at `path`; false on ECONNREFUSED, ENOENT or ENOTDIR. */
export function isSocketListening(path: string): boolean {
  try {
    closeFd(connectUnix(path));
    return true;
  } catch (error) {
    if (
      error instanceof SystemError &&
      (error.errno === ERRNO.ECONNREFUSED || error.errno === ERRNO.ENOENT || error.errno === ERRNO.ENOTDIR)
    ) {
      return false;
    }
    throw error;
  }
}

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

const ucred = scratch(12);
const ucredLength = new Uint32Array(2);

/** The connecting process's pid, uid and gid (SO_PEERCRED), as of connect time. */
export function peerCredentials(fd: number): PeerCredentials {
  ucred.bytes.fill(0);
  ucredLength[0] = 12;
  check(
    "getsockopt",
    libc.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ucred.bytes, ucredLength),
    `SO_PEERCRED fd ${fd}`,
  );
  return {
    pid: ucred.view.getInt32(0, true),
    uid: ucred.view.getUint32(4, true),
    gid: ucred.view.getUint32(8, true),
  };
}

/** socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC): two connected descriptors. */
export function socketPair(): [number, number] {
  const fds = new Int32Array(2);
  check("socketpair", libc.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds));
  return [fds[0] ?? -1, fds[1] ?? -1];
}

/** This process's uid, gid and pid from libc. */
export function processIdentity(): PeerCredentials {
  return { pid: libc.getpid(), uid: libc.getuid(), gid: libc.getgid() };
}
