/**
 * A recording proxy between clients and a store, in a process of its own (a client's connect blocks in the
 * handshake). Args: STORE_SOCKET PROXY_SOCKET. It hands each client the store's Welcome and arena fd, then
 * forwards bytes both ways and prints one JSON line per top-level frame:
 * {"dir":"c2s"|"s2c","type":N,"flags":N,"requestId":N,"subFrames":[[type,flags,requestId],…]}.
 * Prints "ready" once it listens.
 */
import type { Socket } from "bun";
import { connectUnix, recvFd, sendFd } from "../../../src/ffi/index.ts";
import { ByteReader } from "../../../src/protocol/bytes.ts";
import { BatchCodec, MessageType } from "../../../src/protocol/codecs/index.ts";
import { FrameReader } from "../../../src/protocol/frame.ts";

const [storePath, proxyPath] = process.argv.slice(2) as [string, string];

function recorder(dir: "c2s" | "s2c"): FrameReader {
  return new FrameReader((type, flags, requestId, body, view) => {
    const subFrames: number[][] = [];
    if (type === MessageType.Batch) {
      BatchCodec.forEachFrame(new ByteReader(body, view), (t, f, id) => {
        subFrames.push([t, f, id]);
      });
    }
    console.log(JSON.stringify({ dir, type, flags, requestId, subFrames }));
  });
}

interface Link {
  upstream: Socket<unknown> | null;
  reader: FrameReader;
  /** What the client sent before the connection to the store was adopted. */
  early: Uint8Array[];
}

Bun.listen<Link>({
  unix: proxyPath,
  socket: {
    async open(client) {
      const link: Link = { upstream: null, reader: recorder("c2s"), early: [] };
      client.data = link;
      const fd = connectUnix(storePath);
      const welcome = recvFd(fd, 64 * 1024, 10_000);
      if (welcome.fd === null) throw new Error("the store sent no fd");
      const clientFd = (client as unknown as { fd: number }).fd;
      sendFd(clientFd, welcome.fd, welcome.payload);
      const fromStore = recorder("s2c");
      const options = {
        fd,
        socket: {
          data: (_s: Socket<unknown>, data: Uint8Array) => {
            fromStore.push(data);
            client.write(data);
          },
          close: () => client.end(),
        },
      };
      link.upstream = await Bun.connect(options as unknown as Parameters<typeof Bun.connect>[0]);
      for (const chunk of link.early) link.upstream.write(chunk);
      link.early = [];
    },
    data(client, data) {
      const link = client.data;
      link.reader.push(data);
      if (link.upstream === null) link.early.push(data.slice());
      else link.upstream.write(data);
    },
    close(client) {
      client.data.upstream?.end();
    },
  },
});
console.log("ready");
