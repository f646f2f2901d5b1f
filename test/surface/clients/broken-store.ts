/**
 * A process for the surface tests that poses as a store on the socket argv[2]; prints "listening" when it
 * accepts. The client's handshake blocks its own thread, so this cannot run inside the test process.
 * With argv[3] = "old-welcome" it sends a version-1 Welcome instead (see oldWelcome) and nothing else.
 */
import { rmSync } from "node:fs";
import { closeFd, createArenaFile, sendFd } from "../../../src/ffi/index.ts";
import { ByteWriter } from "../../../src/protocol/bytes.ts";
import { HelloCodec, MessageType, WelcomeCodec } from "../../../src/protocol/codecs/index.ts";
import { beginFrame, endFrame, FLAG_REPLY, FrameReader } from "../../../src/protocol/frame.ts";
import { FRAME_HEADER_BYTES, PROTOCOL_VERSION, WELCOME_MAGIC } from "../../../src/protocol/limits.ts";

const MiB = 1024 * 1024;

/**
 * A peer that speaks the store's handshake (welcome + a real memfd, then the Hello reply) and answers
 * every later request with a frame header announcing a body over the frame limit: what a client must
 * treat as a broken store. For testing what a client does and logs when its store misbehaves.
 */
function startBrokenStore(socketPath: string, mode: "bad-frames" | "old-welcome"): { stop(): void } {
  const arena = createArenaFile({ sizeBytes: MiB, name: "plasma-surface-broken" });
  const listener = Bun.listen<{ reader: FrameReader | null }>({
    unix: socketPath,
    socket: {
      open(socket) {
        if (mode === "old-welcome") {
          const fd = (socket as unknown as { fd: number }).fd;
          sendFd(fd, arena.fd, oldWelcome(arena.sizeBytes));
          socket.data = { reader: null };
          return;
        }
        const welcome = new ByteWriter(128);
        WelcomeCodec.encode(welcome, {
          version: PROTOCOL_VERSION,
          capacityBytes: arena.sizeBytes,
          arenaBytes: arena.sizeBytes,
          clientId: 1,
          maxObjectBytes: arena.sizeBytes,
          maxMetadataBytes: MiB,
          maxIdsPerRequest: 100_000,
          readOnly: false,
        });
        const fd = (socket as unknown as { fd: number }).fd;
        sendFd(fd, arena.fd, welcome.bytes.subarray(0, welcome.length));
        socket.data = {
          reader: new FrameReader((type, _flags, requestId) => {
            const reply = new ByteWriter(64);
            if (type === MessageType.Hello) {
              HelloCodec.encodeReply(reply, requestId);
            } else {
              const header = new DataView(new ArrayBuffer(FRAME_HEADER_BYTES));
              header.setUint32(0, 0xffff_ffff, true);
              header.setUint16(4, type, true);
              header.setUint16(6, FLAG_REPLY, true);
              header.setUint32(8, requestId, true);
              reply.raw(new Uint8Array(header.buffer));
            }
            socket.write(reply.bytes.subarray(0, reply.length));
          }),
        };
      },
      data(socket, data) {
        socket.data.reader?.push(data);
      },
    },
  });
  return {
    stop() {
      listener.stop(true);
      closeFd(arena.fd);
      rmSync(socketPath, { force: true });
    },
  };
}

/**
 * The Welcome frame of protocol version 1, as its stores sent it: magic, version 1, status 0 and the
 * store's sizes, without the u32 flags word version 2 appends.
 */
function oldWelcome(arenaBytes: number): Uint8Array {
  const out = new ByteWriter(128);
  const at = beginFrame(out, MessageType.Welcome, 0, 0);
  out.u32(WELCOME_MAGIC);
  out.u16(1);
  out.u8(0);
  out.u64(arenaBytes);
  out.u64(arenaBytes);
  out.u32(1);
  out.u64(arenaBytes);
  out.u32(MiB);
  out.u32(100_000);
  endFrame(out, at);
  return out.bytes.subarray(0, out.length);
}

const broken = startBrokenStore(
  process.argv[2] as string,
  process.argv[3] === "old-welcome" ? "old-welcome" : "bad-frames",
);
process.once("SIGTERM", () => {
  broken.stop();
  process.exit(0);
});
console.log("listening");
