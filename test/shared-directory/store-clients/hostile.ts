/**
 * A hostile client of a real store: takes the Welcome's descriptors itself, tries to map the directory
 * writable (through the descriptor and through /proc/self/fd reopened O_RDWR), then scribbles over its pin
 * table: random words, and real (index, version) pairs copied from the directory. Prints one JSON line of
 * what the kernel refused, then keeps scribbling until killed.
 */
import { openSync } from "node:fs";
import {
  closeFd,
  connectUnix,
  mapShared,
  recvFds,
  SystemError,
  sendBytes,
  viewOf,
} from "../../../src/ffi/index.ts";
import { ByteWriter } from "../../../src/protocol/bytes.ts";
import { HelloCodec } from "../../../src/protocol/codecs/index.ts";
import { PROTOCOL_VERSION } from "../../../src/protocol/limits.ts";
import { directorySizeBytes, Entry, entryBase } from "../../../src/protocol/shared-directory/index.ts";
import { prng } from "./common.ts";

const [socketPath] = process.argv.slice(2) as [string];
const socket = connectUnix(socketPath);
const welcome = recvFds(socket, 64 * 1024, 10_000, 3);
if (welcome.fds.length !== 3) throw new Error(`expected 3 descriptors, got ${welcome.fds.length}`);
const [, directoryFd, pinFd] = welcome.fds as [number, number, number];
const hello = new ByteWriter(64);
HelloCodec.encodeRequest(hello, 1, { version: PROTOCOL_VERSION, pid: process.pid });
sendBytes(socket, hello.bytes.subarray(0, hello.length));

function refusal(attempt: () => unknown): string {
  try {
    attempt();
    return "mapped";
  } catch (error) {
    return error instanceof SystemError ? error.errnoName : String(error);
  }
}
const directoryBytes = Bun.file(`/proc/self/fd/${directoryFd}`).size || directorySizeBytes(2);
const refused = {
  writableMap: refusal(() => mapShared(directoryFd, 4096)),
  reopenedWritable: refusal(() => {
    const fd = openSync(`/proc/self/fd/${directoryFd}`, "r+");
    try {
      mapShared(fd, 4096);
    } finally {
      closeFd(fd);
    }
  }),
};
const directory = new Uint32Array(
  viewOf(mapShared(directoryFd, directoryBytes, { readOnly: true }), 0, directoryBytes),
);
const pinBytes = Bun.file(`/proc/self/fd/${pinFd}`).size;
const table = new Uint32Array(viewOf(mapShared(pinFd, pinBytes), 0, pinBytes));
const capacity = directory[2] as number;
process.stdout.write(`${JSON.stringify(refused)}\n`);
const random = prng(99);
for (;;) {
  for (let i = 0; i < 4096; i++) {
    const at = Math.floor(random() * table.length);
    const kind = random();
    if (kind < 0.5) {
      table[at] = Math.floor(random() * 2 ** 32);
    } else {
      // A real (index, version) pair: pins a live object, like holding a reference.
      const index = Math.floor(random() * capacity);
      const slotAt = 8 + 2 * Math.floor(random() * ((table.length - 8) / 2));
      table[slotAt + 1] = directory[entryBase(index) + Entry.VERSION] as number;
      table[slotAt] = index + 1;
    }
  }
  await Bun.sleep(1);
}
