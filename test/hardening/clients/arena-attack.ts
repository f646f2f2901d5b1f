// A hostile client process. argv: socketPath mode [hex]
//   resize        finds the arena descriptor the store sent, tries to shrink and grow it, prints JSON
//   size          prints the arena file's size as this client sees it
//   write-sealed  gets the sealed object <hex> and writes into the buffer it was handed (must SIGSEGV)
//   write-own     creates, seals and gets back its own object, then writes into the get's buffer

import { dlopen } from "bun:ffi";
import { fstatSync, ftruncateSync } from "node:fs";
import { connect, ObjectID } from "../../../src/client/index.ts";
import { arenaFd, attempt } from "./arena-fd.ts";

const [socketPath, mode, hex] = process.argv.slice(2);
const client = await connect(socketPath as string);

if (mode === "resize") {
  const fd = arenaFd();
  const before = fstatSync(fd).size;
  const libc = dlopen("libc.so.6", { fcntl: { args: ["i32", "i32", "i32"], returns: "i32" } });
  const F_GET_SEALS = 1034;
  const seals = libc.symbols.fcntl(fd, F_GET_SEALS, 0);
  const shrink = attempt(() => ftruncateSync(fd, 0));
  const grow = attempt(() => ftruncateSync(fd, before * 2));
  const after = fstatSync(fd).size;
  console.log(JSON.stringify({ before, after, seals, shrink, grow }));
  process.exit(0); // touch nothing: after a successful shrink, the mapping has no pages behind it
} else if (mode === "size") {
  console.log(JSON.stringify({ size: fstatSync(arenaFd()).size }));
} else if (mode === "write-sealed" || mode === "write-own") {
  let id: ObjectID;
  if (mode === "write-own") {
    id = ObjectID.fromRandom();
    (await client.create(id, 64)).fill(0x42);
    await client.seal(id);
  } else {
    id = ObjectID.fromHex(hex as string);
  }
  const [buffer] = await client.getBuffers([id], { timeoutMs: 10_000 });
  if (buffer === null || buffer === undefined) {
    console.log("missing");
    process.exit(3);
  }
  console.log(`read ${buffer[0]}`);
  buffer[0] = 0xff;
  console.log(`wrote ${buffer[0]}`);
}
await client.disconnect();
