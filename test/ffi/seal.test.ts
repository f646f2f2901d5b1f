import { describe, expect, test } from "bun:test";
import {
  closeFd,
  createArenaFile,
  mapShared,
  reopenProcessFd,
  SYSTEM_PAGE_SIZE,
  sealReadOnlyForOthers,
  unmap,
  viewOf,
} from "../../src/ffi/index.ts";
import { ERRNO, SystemError } from "../../src/ffi/libc.ts";
import { rawLibc, thrown } from "./helpers.ts";

const F_GET_SEALS = 1034;
const F_SEAL_FUTURE_WRITE = 0x10;
const SIZE = 2 * SYSTEM_PAGE_SIZE;

function errnoOf(error: unknown): number {
  expect(error).toBeInstanceOf(SystemError);
  return (error as SystemError).errno;
}

describe("sealReadOnlyForOthers (F_SEAL_FUTURE_WRITE)", () => {
  test("deferSeals leaves a memfd unsealed", () => {
    const file = createArenaFile({ sizeBytes: SIZE, deferSeals: true, name: "seal-test" });
    try {
      expect(file.sealed).toBe(false);
      expect(rawLibc.fcntl(file.fd, F_GET_SEALS, 0)).toBe(0);
    } finally {
      closeFd(file.fd);
    }
  });

  test("the creator's earlier mapping keeps writing; every new writable mapping is refused", () => {
    const file = createArenaFile({ sizeBytes: SIZE, deferSeals: true, name: "seal-test" });
    const writable = mapShared(file.fd, SIZE);
    sealReadOnlyForOthers(file.fd);
    expect(rawLibc.fcntl(file.fd, F_GET_SEALS, 0) & F_SEAL_FUTURE_WRITE).toBe(F_SEAL_FUTURE_WRITE);
    const reopened = reopenProcessFd(process.pid, file.fd, { writable: true });
    const readOnly = reopenProcessFd(process.pid, file.fd);
    try {
      const words = new Uint32Array(viewOf(writable, 0, SIZE));
      Atomics.store(words, 3, 0xdecafbad);
      expect(errnoOf(thrown(() => mapShared(file.fd, SIZE)))).toBe(ERRNO.EPERM);
      expect(errnoOf(thrown(() => mapShared(reopened, SIZE)))).toBe(ERRNO.EPERM);
      expect(errnoOf(thrown(() => mapShared(readOnly, SIZE)))).toBe(ERRNO.EACCES);
      const reader = mapShared(readOnly, SIZE, { readOnly: true });
      expect(new Uint32Array(viewOf(reader, 0, SIZE))[3]).toBe(0xdecafbad);
      Atomics.store(words, 3, 7);
      expect(new Uint32Array(viewOf(reader, 0, SIZE))[3]).toBe(7);
      unmap(reader, SIZE);
    } finally {
      closeFd(reopened);
      closeFd(readOnly);
      unmap(writable, SIZE);
      closeFd(file.fd);
    }
  });

  test("a sealed-for-resize arena cannot take the seal later", () => {
    const file = createArenaFile({ sizeBytes: SIZE, name: "seal-test" });
    try {
      expect(file.sealed).toBe(true);
      expect(errnoOf(thrown(() => sealReadOnlyForOthers(file.fd)))).toBe(ERRNO.EPERM);
    } finally {
      closeFd(file.fd);
    }
  });
});

describe("reopenProcessFd", () => {
  test("opens another descriptor of the same file", () => {
    const file = createArenaFile({ sizeBytes: SIZE, name: "reopen-test" });
    const again = reopenProcessFd(process.pid, file.fd, { writable: true });
    const a = mapShared(file.fd, SIZE);
    const b = mapShared(again, SIZE);
    try {
      expect(again).not.toBe(file.fd);
      new Uint8Array(viewOf(a, 0, SIZE))[100] = 42;
      expect(new Uint8Array(viewOf(b, 0, SIZE))[100]).toBe(42);
    } finally {
      unmap(a, SIZE);
      unmap(b, SIZE);
      closeFd(again);
      closeFd(file.fd);
    }
  });

  test("a descriptor that is not open is ENOENT", () => {
    expect(errnoOf(thrown(() => reopenProcessFd(process.pid, 987654)))).toBe(ERRNO.ENOENT);
  });
});
