import { describe, expect, test } from "bun:test";
import { fstatSync } from "node:fs";
import { join } from "node:path";
import {
  closeFd,
  createArenaFile,
  mapShared,
  peerCredentials,
  recvFd,
  SYSTEM_PAGE_SIZE,
  sendBytes,
  sendFd,
  socketPair,
  TimeoutError,
  unmap,
  viewOf,
} from "../../src/ffi/index.ts";
import { ERRNO, libc, SystemError } from "../../src/ffi/libc.ts";
import {
  fdOfBunSocket,
  isFdOpen,
  makeTempDir,
  openFdsMatching,
  removeDir,
  sendManyFds,
  thrown,
} from "./helpers.ts";

const F_GETFD = 1;
const FD_CLOEXEC = 1;
const encode = (text: string) => new TextEncoder().encode(text);

function withPair<T>(fn: (a: number, b: number) => T): T {
  const [a, b] = socketPair();
  try {
    return fn(a, b);
  } finally {
    if (isFdOpen(a)) closeFd(a);
    if (isFdOpen(b)) closeFd(b);
  }
}

describe("sendFd / recvFd in one process", () => {
  test("the received fd is a new close-on-exec descriptor of the same memfd", () => {
    withPair((a, b) => {
      const arena = createArenaFile({ sizeBytes: 65_536 });
      sendFd(a, arena.fd, encode("hello"));
      const message = recvFd(b, 1024, 1000);
      expect(message.fd).not.toBeNull();
      const fd = message.fd ?? -1;
      try {
        expect(fd).not.toBe(arena.fd);
        expect(new TextDecoder().decode(message.payload)).toBe("hello");
        expect(message.payload.byteLength).toBe(5);
        expect(fstatSync(fd).ino).toBe(fstatSync(arena.fd).ino);
        expect(libc.fcntl(fd, F_GETFD, 0) & FD_CLOEXEC).toBe(FD_CLOEXEC);
        const mine = mapShared(arena.fd, arena.sizeBytes);
        const theirs = mapShared(fd, arena.sizeBytes);
        new Uint8Array(viewOf(mine, 40_000, 3)).set([3, 1, 4]);
        expect(Array.from(new Uint8Array(viewOf(theirs, 40_000, 3)))).toEqual([3, 1, 4]);
        unmap(mine, arena.sizeBytes);
        unmap(theirs, arena.sizeBytes);
      } finally {
        closeFd(fd);
        closeFd(arena.fd);
      }
    });
  });

  test("sendBytes carries no fd; payloads come back exactly, split by maxPayloadBytes", () => {
    withPair((a, b) => {
      expect(sendBytes(a, encode("abcdefgh"))).toBe(8);
      const first = recvFd(b, 3, 1000);
      expect(first.fd).toBeNull();
      expect(new TextDecoder().decode(first.payload)).toBe("abc");
      const rest = recvFd(b, 100, 1000);
      expect(new TextDecoder().decode(rest.payload)).toBe("defgh");
      expect(sendBytes(a, new Uint8Array(0))).toBe(0);
      const big = new Uint8Array(100_000).map((_, i) => i & 0xff);
      expect(sendBytes(a, big)).toBe(big.length);
      let got = 0;
      while (got < big.length) {
        const part = recvFd(b, 200_000, 1000).payload;
        expect(Array.from(part.subarray(0, 4))).toEqual(Array.from(big.subarray(got, got + 4)));
        got += part.byteLength;
      }
      expect(got).toBe(big.length);
    });
  });

  test("a payload sent from a mapped view goes through unchanged", () => {
    withPair((a, b) => {
      const arena = createArenaFile({ sizeBytes: SYSTEM_PAGE_SIZE });
      const base = mapShared(arena.fd, arena.sizeBytes);
      try {
        const view = new Uint8Array(viewOf(base, 16, 4));
        view.set([9, 9, 8, 8]);
        sendFd(a, arena.fd, view);
        const message = recvFd(b, 64, 1000);
        expect(Array.from(message.payload)).toEqual([9, 9, 8, 8]);
        if (message.fd !== null) closeFd(message.fd);
      } finally {
        unmap(base, arena.sizeBytes);
        closeFd(arena.fd);
      }
    });
  });

  test("descriptors beyond the first are closed", () => {
    withPair((a, b) => {
      const arenas = ["a", "b", "c"].map((tag) =>
        createArenaFile({ sizeBytes: SYSTEM_PAGE_SIZE, name: `ffi-extra-${tag}` }),
      );
      expect(
        sendManyFds(
          a,
          arenas.map((arena) => arena.fd),
          encode("x"),
        ),
      ).toBe(1);
      for (const arena of arenas) closeFd(arena.fd);
      expect(openFdsMatching("memfd:ffi-extra-")).toEqual([]);
      const message = recvFd(b, 16, 1000);
      expect(message.fd).not.toBeNull();
      expect(openFdsMatching("memfd:ffi-extra-")).toEqual(["/memfd:ffi-extra-a (deleted)"]);
      closeFd(message.fd ?? -1);
    });
  });

  test("timeout: TimeoutError, a SystemError with errnoName ETIMEDOUT", () => {
    withPair((_a, b) => {
      const started = performance.now();
      const error = thrown(() => recvFd(b, 16, 60));
      expect(performance.now() - started).toBeGreaterThanOrEqual(55);
      expect(error).toBeInstanceOf(TimeoutError);
      expect(error).toBeInstanceOf(SystemError);
      expect((error as SystemError).errnoName).toBe("ETIMEDOUT");
      expect((error as SystemError).errno).toBe(ERRNO.ETIMEDOUT);
    });
  });

  test("peer closed: empty payload and no fd", () => {
    withPair((a, b) => {
      closeFd(a);
      const message = recvFd(b, 16, 1000);
      expect(message.fd).toBeNull();
      expect(message.payload.byteLength).toBe(0);
    });
  });

  test("a full socket gives EAGAIN, a closed peer EPIPE (no SIGPIPE)", () => {
    withPair((a, b) => {
      const arena = createArenaFile({ sizeBytes: SYSTEM_PAGE_SIZE });
      try {
        const chunk = new Uint8Array(65_536);
        let error: unknown;
        let total = 0;
        let partial = false;
        for (let i = 0; i < 10_000 && error === undefined; i++) {
          try {
            const sent = sendBytes(a, chunk);
            expect(sent).toBeGreaterThan(0);
            if (sent < chunk.length) partial = true;
            total += sent;
          } catch (caught) {
            error = caught;
          }
        }
        expect(total).toBeGreaterThan(chunk.length);
        expect(partial).toBe(true); // the last send before EAGAIN only fit part of its chunk
        expect(error).toBeInstanceOf(SystemError);
        expect((error as SystemError).syscall).toBe("sendmsg");
        expect((error as SystemError).errnoName).toBe("EAGAIN");
        expect((thrown(() => sendFd(a, arena.fd, new Uint8Array(65_536))) as SystemError).errnoName).toBe(
          "EAGAIN",
        );
        closeFd(b);
        expect((thrown(() => sendFd(a, arena.fd, encode("x"))) as SystemError).errnoName).toBe("EPIPE");
      } finally {
        closeFd(arena.fd);
      }
    });
  });

  test("argument and descriptor errors", () => {
    withPair((a, b) => {
      expect(() => sendFd(a, 0, new Uint8Array(0))).toThrow(RangeError);
      expect(() => recvFd(b, 0, 10)).toThrow(RangeError);
      expect((thrown(() => sendFd(a, 987_654, encode("x"))) as SystemError).errnoName).toBe("EBADF");
      expect((thrown(() => recvFd(987_654, 16, 10)) as SystemError).errnoName).toBe("EBADF");
    });
  });
});

describe("fd passing to another Bun process", () => {
  test("the child maps the received arena, sees the parent's bytes, writes bytes the parent sees", async () => {
    const dir = makeTempDir();
    const path = join(dir, "store.sock");
    const arena = createArenaFile({ sizeBytes: 1 << 20, name: "ffi-child-arena" });
    const base = mapShared(arena.fd, arena.sizeBytes);
    const pattern = [11, 22, 33, 44, 55, 66, 77, 88];
    const reply = [0xde, 0xad, 0xbe, 0xef];
    const replyOffset = 700_001;
    new Uint8Array(viewOf(base, 0, pattern.length)).set(pattern);

    const chunks: Uint8Array[] = [];
    const gotReport = Promise.withResolvers<void>();
    const peers: number[] = [];
    const server = Bun.listen({
      unix: path,
      socket: {
        open(socket) {
          const fd = fdOfBunSocket(socket);
          peers.push(peerCredentials(fd).pid);
          const hello = { sizeBytes: arena.sizeBytes, pattern, replyOffset, reply };
          sendFd(fd, arena.fd, encode(JSON.stringify(hello)));
        },
        data(_socket, data) {
          chunks.push(new Uint8Array(data));
        },
        close() {
          gotReport.resolve();
        },
      },
    });
    const child = Bun.spawn([process.execPath, join(import.meta.dir, "fixtures", "arena-child.ts"), path], {
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      const exitCode = await child.exited;
      const stderr = await new Response(child.stderr).text();
      expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: "" });
      await gotReport.promise;
      const report = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      expect(report).toEqual({
        seen: pattern,
        shrink: "EPERM",
        grow: "EPERM",
        addSeal: "EPERM",
        cloexec: true,
        serverPid: process.pid,
      });
      expect(peers).toEqual([child.pid]);
      expect(Array.from(new Uint8Array(viewOf(base, replyOffset, reply.length)))).toEqual(reply);
    } finally {
      child.kill();
      server.stop(true);
      unmap(base, arena.sizeBytes);
      closeFd(arena.fd);
      removeDir(dir);
    }
  });
});
