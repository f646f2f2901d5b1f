/** Plain file-descriptor operations shared by the arena and socket code. */
import { check, ERRNO, errno, libc, SystemError } from "./libc.ts";

const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;

/** close(2). EINTR is not retried: on Linux the descriptor is released anyway. */
export function closeFd(fd: number): void {
  if (libc.close(fd) < 0) {
    const code = errno();
    if (code !== ERRNO.EINTR) throw new SystemError("close", code, `fd ${fd}`);
  }
}

/** dup(2) with close-on-exec cleared, as dup does. */
export function dupFd(fd: number): number {
  return check("dup", libc.dup(fd), `fd ${fd}`);
}

/** Turn O_NONBLOCK on or off. */
export function setNonBlocking(fd: number, on: boolean): void {
  const flags = check("fcntl", libc.fcntl(fd, F_GETFL, 0), `F_GETFL on fd ${fd}`);
  const wanted = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
  if (wanted !== flags) check("fcntl", libc.fcntl(fd, F_SETFL, wanted), `F_SETFL on fd ${fd}`);
}
