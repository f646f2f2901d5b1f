/** Plain file-descriptor operations shared by the arena and socket code. */
import { check, checkRetry, ERRNO, errno, libc, SystemError } from "./libc.ts";
import { cString } from "./struct.ts";

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

const O_RDONLY = 0;
const O_RDWR = 0o2;
const O_CLOEXEC = 0o2000000;

/**
 * open("/proc/PID/fd/FD"): a new descriptor for the file another process (or this one) holds open, as a
 * child process gets at its parent's memfd. Read-only unless `writable`. Throws SystemError (ENOENT when
 * the process or descriptor is gone, EACCES without ptrace-read rights over the process).
 */
export function reopenProcessFd(pid: number, fd: number, opts?: { writable?: boolean }): number {
  const mode = opts?.writable === true ? O_RDWR : O_RDONLY;
  const path = cString(`/proc/${pid}/fd/${fd}`, "proc fd path");
  return checkRetry("open", () => libc.open(path, mode | O_CLOEXEC, 0), `/proc/${pid}/fd/${fd}`);
}
