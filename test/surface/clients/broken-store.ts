/**
 * A process for the surface tests that poses as a store on the socket argv[2]; prints "listening" when it
 * accepts. The client's handshake blocks its own thread, so this cannot run inside the test process.
 */
import { rmSync } from "node:fs";
import { closeFd, createArenaFile, sendFd } from "../../../src/ffi/index.ts";
import { ByteWriter } from "../../../src/protocol/bytes.ts";
import { HelloCodec, MessageType, WelcomeCodec } from "../../../src/protocol/codecs/index.ts";
import { FLAG_REPLY, FrameReader } from "../../../src/protocol/frame.ts";
import { FRAME_HEADER_BYTES, PROTOCOL_VERSION } from "../../../src/protocol/limits.ts";

const MiB = 1024 * 1024;

/**
 * A peer that speaks the store's handshake (welcome + a real memfd, then the Hello reply) and answers
 * every later request with a frame header announcing a body over the frame limit: what a client must
 * treat as a broken store. For testing what a client does and logs when its store misbehaves.
 */
function startBrokenStore(socketPath: string): { stop(): void } {
  const arena = createArenaFile({ sizeBytes: MiB, name: "plasma-surface-broken" });
  const listener = Bun.listen<{ reader: FrameReader | null }>({
    unix: socketPath,
    socket: {
      open(socket) {
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

const broken = startBrokenStore(process.argv[2] as string);
process.once("SIGTERM", () => {
  broken.stop();
  process.exit(0);
});
console.log("listening");
