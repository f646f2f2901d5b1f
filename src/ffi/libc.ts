/**
 * The libc binding: one `dlopen` of libc.so.6 with typed signatures, errno access, and `SystemError`.
 * This is the only file that names libc symbols; the rest of src/ffi builds on `libc` from here.
 */
import { dlopen, FFIType, type Pointer, read } from "bun:ffi";

if (process.platform !== "linux" || process.arch !== "x64") {
  throw new Error(
    `bun-plasma's FFI layer supports Linux x86-64 only (this is ${process.platform}/${process.arch}): ` +
      "struct layouts and constants in src/ffi are hard-coded for it",
  );
}

const lib = dlopen("libc.so.6", {
  memfd_create: { args: ["ptr", "u32"], returns: "i32" },
  ftruncate: { args: ["i32", "i64"], returns: "i32" },
  fallocate: { args: ["i32", "i32", "i64", "i64"], returns: "i32" },
  fcntl: { args: ["i32", "i32", "i64"], returns: "i32" },
  mmap: { args: ["ptr", "u64", "i32", "i32", "i32", "i64"], returns: "ptr" },
  munmap: { args: ["ptr", "u64"], returns: "i32" },
  madvise: { args: ["ptr", "u64", "i32"], returns: "i32" },
  mincore: { args: ["ptr", "u64", "ptr"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
  dup: { args: ["i32"], returns: "i32" },
  open: { args: ["ptr", "i32", "u32"], returns: "i32" },
  pread: { args: ["i32", "ptr", "u64", "i64"], returns: FFIType.i64_fast },
  pwrite: { args: ["i32", "ptr", "u64", "i64"], returns: FFIType.i64_fast },
  fchmod: { args: ["i32", "u32"], returns: "i32" },
  unlink: { args: ["ptr"], returns: "i32" },
  statfs: { args: ["ptr", "ptr"], returns: "i32" },
  fstatfs: { args: ["i32", "ptr"], returns: "i32" },
  socket: { args: ["i32", "i32", "i32"], returns: "i32" },
  socketpair: { args: ["i32", "i32", "i32", "ptr"], returns: "i32" },
  connect: { args: ["i32", "ptr", "u32"], returns: "i32" },
  sendmsg: { args: ["i32", "ptr", "i32"], returns: FFIType.i64_fast },
  recvmsg: { args: ["i32", "ptr", "i32"], returns: FFIType.i64_fast },
  poll: { args: ["ptr", "u64", "i32"], returns: "i32" },
  getsockopt: { args: ["i32", "i32", "i32", "ptr", "ptr"], returns: "i32" },
  getuid: { args: [], returns: "u32" },
  getgid: { args: [], returns: "u32" },
  getpid: { args: [], returns: "i32" },
  sysconf: { args: ["i32"], returns: FFIType.i64_fast },
  strerror: { args: ["i32"], returns: "cstring" },
  __errno_location: { args: [], returns: "ptr" },
});

/** Raw libc symbols. Prefer the checked wrappers in the sibling files. */
export const libc = lib.symbols;

// errno is thread-local; this module instance belongs to one JS thread (a Worker loads its own copy).
const errnoAddress = libc.__errno_location() as Pointer;

/** The calling thread's errno. Read it immediately after the failing call. */
export function errno(): number {
  return read.i32(errnoAddress, 0);
}

/** Linux x86-64 errno numbers for the codes this project meets. */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  ECHILD: 10,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EROFS: 30,
  EPIPE: 32,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ELOOP: 40,
  EOVERFLOW: 75,
  ENOTSOCK: 88,
  EMSGSIZE: 90,
  EPROTOTYPE: 91,
  ENOPROTOOPT: 92,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOBUFS: 105,
  EISCONN: 106,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTUNREACH: 113,
  EALREADY: 114,
  EINPROGRESS: 115,
} as const;

export type ErrnoName = keyof typeof ERRNO;

const namesByNumber = new Map<number, string>(Object.entries(ERRNO).map(([name, n]) => [n, name]));

/** "ENOENT" for 2, "E123" for numbers outside the table. */
export function errnoName(code: number): string {
  return namesByNumber.get(code) ?? `E${code}`;
}

/** A failed system call: `memfd_create failed: ENOMEM (Cannot allocate memory)`. */
export class SystemError extends Error {
  readonly code = "ESYSCALL";
  readonly syscall: string;
  readonly errno: number;
  readonly errnoName: string;

  constructor(syscall: string, errnoValue: number, detail?: string) {
    const name = errnoName(errnoValue);
    const described = `${syscall} failed: ${name} (${describeErrno(errnoValue)})`;
    super(detail === undefined ? described : `${described}: ${detail}`);
    this.name = "SystemError";
    this.syscall = syscall;
    this.errno = errnoValue;
    this.errnoName = name;
  }
}

/** libc's text for an errno value ("No such file or directory"). */
export function describeErrno(code: number): string {
  return String(libc.strerror(code) ?? `errno ${code}`);
}

/** Throw a SystemError built from the current errno when `result` is negative; else return it. */
export function check(syscall: string, result: number, detail?: string): number {
  if (result < 0) throw new SystemError(syscall, errno(), detail);
  return result;
}

/** Call `fn` again while it fails with EINTR; throw a SystemError on any other failure. */
export function checkRetry(syscall: string, fn: () => number, detail?: string): number {
  for (;;) {
    const result = fn();
    if (result >= 0) return result;
    const code = errno();
    if (code !== ERRNO.EINTR) throw new SystemError(syscall, code, detail);
  }
}
