/**
 * The far end of the cluster transfer bench: one object of SIZE_BYTES (filled, so its pages exist) served
 * two ways, a raw TCP stream (every connection gets the SIZE_BYTES bytes in 1 MiB writes, then a FIN) and
 * the TransferServer. Prints `{"rawPort":N,"transferPort":N,"id":"HEX"}`.
 */
import { TransferServer } from "../../src/cluster/transfer/index.ts";
import { ObjectID } from "../../src/protocol/object-id.ts";

const sizeBytes = Number(process.argv[2]);
const object = new Uint8Array(sizeBytes);
for (let i = 0; i < sizeBytes; i++) object[i] = (i * 31 + (i >>> 12)) & 255;
const id = ObjectID.fromRandom();
const WRITE_BYTES = 1024 * 1024;

interface RawState {
  sentBytes: number;
  pending: Uint8Array | null;
}
function pumpRaw(socket: { write(b: Uint8Array): number; shutdown(): void }, state: RawState): void {
  for (;;) {
    if (state.pending !== null) {
      const written = socket.write(state.pending);
      if (written < state.pending.length) {
        if (written > 0) state.pending = state.pending.subarray(written);
        return;
      }
      state.pending = null;
    }
    if (state.sentBytes >= sizeBytes) {
      socket.shutdown();
      return;
    }
    const end = Math.min(sizeBytes, state.sentBytes + WRITE_BYTES);
    state.pending = object.subarray(state.sentBytes, end);
    state.sentBytes = end;
  }
}

const raw = Bun.listen<RawState>({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    open(socket) {
      socket.data = { sentBytes: 0, pending: null };
      pumpRaw(socket, socket.data);
    },
    drain: (socket) => pumpRaw(socket, socket.data),
    data() {},
  },
});

const transfer = TransferServer.listen({
  port: 0,
  token: "bench",
  source: {
    open: (wanted) =>
      wanted.key === id.key
        ? {
            dataSize: sizeBytes,
            metadataSize: 0,
            read: (offset, target) => target.set(object.subarray(offset, offset + target.length)),
            release() {},
          }
        : null,
  },
});
console.log(JSON.stringify({ rawPort: raw.port, transferPort: transfer.address.port, id: id.hex() }));
