// A hostile read-write client: finds the arena descriptor the store sent and cuts the file to 0 bytes
// through it, never touching its own mapping (that would SIGBUS this process, not the store).
// argv: socketPath mode; runs until killed.
//   once  truncates once and prints {"truncatedFrom":N,"size":0}
//   loop  prints "looping", then truncates again and again (the store restores the size when it needs it)
import { fstatSync, ftruncateSync } from "node:fs";
import { connect } from "../../../src/client/index.ts";
import { arenaFd } from "./arena-fd.ts";

const [socketPath, mode] = process.argv.slice(2);
const client = await connect(socketPath as string);

const fd = arenaFd();
if (mode === "once") {
  const before = fstatSync(fd).size;
  ftruncateSync(fd, 0);
  console.log(JSON.stringify({ truncatedFrom: before, size: fstatSync(fd).size }));
  setInterval(() => client.clientId, 60_000); // stay connected until killed
} else {
  console.log("looping");
  for (;;) {
    for (let i = 0; i < 100; i++) ftruncateSync(fd, 0);
    await Bun.sleep(0);
  }
}
