/**
 * Reading and writing a file at an offset with pread/pwrite instead of through a mapping. A mapping of a
 * file another process can shrink kills the reader with SIGBUS when it touches a lost page; a pread of the
 * same bytes returns short (EOF) and a pwrite fails with an errno, so the caller stays alive.
 */
import { type Pointer, ptr } from "bun:ffi";
import { check, ERRNO, errno, libc, SystemError } from "./libc.ts";
import { cString } from "./struct.ts";

const F_GETFL = 3;
const O_ACCMODE = 0o3;
const O_RDONLY = 0;
const O_RDWR = 0o2;
const O_CLOEXEC = 0o2000000;

function pointerOf(bytes: Uint8Array): Pointer {
  return ptr(bytes);
}

/**
 * pread until `target` is full or the file ends; returns the bytes read (fewer than `target.length` only
 * at end of file). Retries EINTR; throws SystemError (e.g. EIO) on other failures.
 */
export function preadFully(fd: number, target: Uint8Array, position: number): number {
  let done = 0;
  while (done < target.length) {
    const n = Number(libc.pread(fd, pointerOf(target.subarray(done)), target.length - done, position + done));
    if (n > 0) {
      done += n;
      continue;
    }
    if (n === 0) break;
    const code = errno();
    if (code === ERRNO.EINTR) continue;
    throw new SystemError("pread", code, `${target.length} bytes at ${position} of fd ${fd}`);
  }
  return done;
}

/** pwrite all of `source` at `position`. Retries EINTR; throws SystemError (EIO, ENOSPC, …) otherwise. */
export function pwriteFully(fd: number, source: Uint8Array, position: number): void {
  let done = 0;
  while (done < source.length) {
    const n = Number(
      libc.pwrite(fd, pointerOf(source.subarray(done)), source.length - done, position + done),
    );
    if (n > 0) {
      done += n;
      continue;
    }
    const code = n === 0 ? ERRNO.EIO : errno();
    if (code === ERRNO.EINTR) continue;
    throw new SystemError("pwrite", code, `${source.length} bytes at ${position} of fd ${fd}`);
  }
}

/** A new read-only descriptor of the file `fd` refers to (open of /proc/self/fd/N with O_RDONLY). */
export function reopenReadOnly(fd: number): number {
  const path = cString(`/proc/self/fd/${fd}`, "fd path");
  return check("open", libc.open(path, O_RDONLY | O_CLOEXEC, 0), `/proc/self/fd/${fd} read-only`);
}

/**
 * A read-write descriptor of this process's own memory (/proc/self/mem): pread/pwrite at an address read
 * and write mapped memory, returning EIO instead of raising SIGBUS where no page can back it.
 */
export function openProcessMemory(): number {
  return check("open", libc.open(cString("/proc/self/mem"), O_RDWR | O_CLOEXEC, 0), "/proc/self/mem");
}

/** fchmod(2). */
export function changeMode(fd: number, mode: number): void {
  check("fchmod", libc.fchmod(fd, mode), `fd ${fd} to 0${mode.toString(8)}`);
}

/** True when `fd` was opened O_RDONLY: it cannot write, resize, punch or map the file writable. */
export function isReadOnlyFd(fd: number): boolean {
  return (check("fcntl", libc.fcntl(fd, F_GETFL, 0), `F_GETFL on fd ${fd}`) & O_ACCMODE) === O_RDONLY;
}
