import { describe, expect, test } from "bun:test";
import { check, describeErrno, ERRNO, errno, errnoName, libc, SystemError } from "../../src/ffi/libc.ts";

describe("libc binding", () => {
  test("errno() reads the errno of the failing call", () => {
    expect(libc.close(987654)).toBe(-1);
    expect(errno()).toBe(ERRNO.EBADF);
  });

  test("errno names come from the table and fall back to E<number>", () => {
    expect(errnoName(ERRNO.ENOENT)).toBe("ENOENT");
    expect(errnoName(111)).toBe("ECONNREFUSED");
    expect(errnoName(11)).toBe("EAGAIN");
    expect(errnoName(4095)).toBe("E4095");
    expect(describeErrno(ERRNO.ENOMEM)).toBe("Cannot allocate memory");
  });

  test("SystemError has syscall, errno, errnoName, code and a readable message", () => {
    const error = new SystemError("memfd_create", ERRNO.ENOMEM);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("SystemError");
    expect(error.code).toBe("ESYSCALL");
    expect(error.syscall).toBe("memfd_create");
    expect(error.errno).toBe(12);
    expect(error.errnoName).toBe("ENOMEM");
    expect(error.message).toBe("memfd_create failed: ENOMEM (Cannot allocate memory)");
    expect(new SystemError("open", ERRNO.EACCES, "/x").message).toBe(
      "open failed: EACCES (Permission denied): /x",
    );
  });

  test("check() turns -1 into a SystemError built from errno", () => {
    expect(check("close", 0)).toBe(0);
    let caught: unknown;
    try {
      check("close", libc.close(987654), "fd 987654");
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SystemError);
    expect((caught as SystemError).errnoName).toBe("EBADF");
    expect((caught as SystemError).message).toBe("close failed: EBADF (Bad file descriptor): fd 987654");
  });

  test("identity calls agree with the process", () => {
    expect(libc.getpid()).toBe(process.pid);
    expect(libc.getuid()).toBe(process.getuid?.() ?? -1);
  });
});
