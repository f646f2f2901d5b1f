import { describe, expect, test } from "bun:test";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import {
  closeFd,
  connectUnix,
  isSocketListening,
  MAX_UNIX_PATH_BYTES,
  peerCredentials,
  processIdentity,
  recvFd,
  sendBytes,
  setNonBlocking,
} from "../../src/ffi/index.ts";
import { libc, SystemError } from "../../src/ffi/libc.ts";
import {
  fdOfBunSocket,
  isFdOpen,
  makeStaleSocket,
  makeTempDir,
  openFdsMatching,
  removeDir,
  thrown,
} from "./helpers.ts";

const F_GETFD = 1;
const F_GETFL = 3;
const O_NONBLOCK = 0o4000;

async function withDir<T>(fn: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = makeTempDir();
  try {
    return await fn(dir);
  } finally {
    removeDir(dir);
  }
}

describe("connectUnix", () => {
  test("a missing path is SystemError ENOENT, a stale socket file ECONNREFUSED; no socket leaks", async () => {
    await withDir((dir) => {
      const socketsBefore = openFdsMatching("socket:").length;
      const missing = thrown(() => connectUnix(join(dir, "missing.sock")));
      expect(missing).toBeInstanceOf(SystemError);
      expect((missing as SystemError).syscall).toBe("connect");
      expect((missing as SystemError).errnoName).toBe("ENOENT");
      expect((missing as SystemError).message).toContain("missing.sock");

      const stale = join(dir, "stale.sock");
      makeStaleSocket(stale);
      const refused = thrown(() => connectUnix(stale));
      expect(refused).toBeInstanceOf(SystemError);
      expect((refused as SystemError).errnoName).toBe("ECONNREFUSED");

      expect(isSocketListening(join(dir, "missing.sock"))).toBe(false);
      expect(isSocketListening(stale)).toBe(false);
      expect(openFdsMatching("socket:").length).toBe(socketsBefore);
    });
  });

  test("paths longer than 107 bytes are RangeErrors; 107 bytes reach connect", () => {
    const longest = `/tmp/${"x".repeat(MAX_UNIX_PATH_BYTES - 5)}`;
    expect(Buffer.byteLength(longest)).toBe(107);
    expect((thrown(() => connectUnix(longest)) as SystemError).errnoName).toBe("ENOENT");
    expect(() => connectUnix(`${longest}y`)).toThrow(RangeError);
    expect(() => connectUnix("")).toThrow(RangeError);
    expect(() => connectUnix("/tmp/a\0b")).toThrow(RangeError);
  });

  test("to a Bun.listen server: connected, close-on-exec; both ends report this process's credentials", async () => {
    await withDir(async (dir) => {
      const path = join(dir, "server.sock");
      const serverSide = Promise.withResolvers<{ pid: number; uid: number; gid: number }>();
      const received = Promise.withResolvers<string>();
      const server = Bun.listen({
        unix: path,
        socket: {
          open(socket) {
            serverSide.resolve(peerCredentials(fdOfBunSocket(socket)));
            socket.write("welcome");
          },
          data(_socket, data) {
            received.resolve(data.toString());
          },
        },
      });
      let fd = -1;
      try {
        expect(isSocketListening(path)).toBe(true);
        fd = connectUnix(path);
        expect(libc.fcntl(fd, F_GETFD, 0) & 1).toBe(1);
        const me = processIdentity();
        expect(me.pid).toBe(process.pid);
        expect(await serverSide.promise).toEqual(me);
        expect(peerCredentials(fd)).toEqual(me);
        // The server writes through Bun's event loop, so yield while waiting for it.
        let message: Uint8Array = new Uint8Array(0);
        for (let i = 0; i < 200 && message.byteLength === 0; i++) {
          await Bun.sleep(5);
          try {
            message = recvFd(fd, 64, 0).payload;
          } catch {
            // nothing yet
          }
        }
        expect(new TextDecoder().decode(message)).toBe("welcome");
        expect(sendBytes(fd, new TextEncoder().encode("thanks"))).toBe(6);
        expect(await received.promise).toBe("thanks");
      } finally {
        if (fd >= 0) closeFd(fd);
        server.stop(true);
      }
      expect(isFdOpen(fd)).toBe(false);
    });
  });

  test("peerCredentials on a non-socket is SystemError ENOTSOCK", () => {
    const fd = openSync("/dev/null", "r");
    try {
      const error = thrown(() => peerCredentials(fd));
      expect(error).toBeInstanceOf(SystemError);
      expect((error as SystemError).errnoName).toBe("ENOTSOCK");
    } finally {
      closeSync(fd);
    }
  });
});

describe("setNonBlocking", () => {
  test("toggles O_NONBLOCK", async () => {
    await withDir(async (dir) => {
      const path = join(dir, "nb.sock");
      const server = Bun.listen({ unix: path, socket: { data() {} } });
      const fd = connectUnix(path);
      try {
        expect(libc.fcntl(fd, F_GETFL, 0) & O_NONBLOCK).toBe(0);
        setNonBlocking(fd, true);
        expect(libc.fcntl(fd, F_GETFL, 0) & O_NONBLOCK).toBe(O_NONBLOCK);
        setNonBlocking(fd, false);
        expect(libc.fcntl(fd, F_GETFL, 0) & O_NONBLOCK).toBe(0);
      } finally {
        closeFd(fd);
        server.stop(true);
      }
    });
  });
});
