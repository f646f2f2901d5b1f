// A client run as a read-only uid (--read-only-uid): tries every way to change the arena through the
// descriptor it was given, reads one object, and prints one JSON line with what happened.
// argv: socketPath hex length byte
import { dlopen, ptr, read as readNative } from "bun:ffi";
import { fchmodSync, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs";
import { connect, ObjectID, type PlasmaError } from "../../../src/client/index.ts";
import { arenaFd, attempt } from "./arena-fd.ts";

const [socketPath, hex, lengthText, byteText] = process.argv.slice(2) as [string, string, string, string];
const libc = dlopen("libc.so.6", {
  fallocate: { args: ["i32", "i32", "i64", "i64"], returns: "i32" },
  mmap: { args: ["ptr", "u64", "i32", "i32", "i32", "i64"], returns: "ptr" },
  mprotect: { args: ["ptr", "u64", "i32"], returns: "i32" },
  __errno_location: { args: [], returns: "ptr" },
}).symbols;
const errnoNames: Record<number, string> = { 1: "EPERM", 9: "EBADF", 13: "EACCES", 22: "EINVAL" };
const errnoAt = libc.__errno_location();
const lastErrno = (): string => {
  const code = readNative.i32(errnoAt as never, 0);
  return errnoNames[code] ?? `E${code}`;
};

async function refused(action: () => Promise<unknown>): Promise<string> {
  try {
    await action();
    return "ok";
  } catch (error) {
    return (error as PlasmaError).name;
  }
}

const client = await connect(socketPath);
const fd = arenaFd();
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const mmapWrite = libc.mmap(null, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
const mmapWriteErr = typeof mmapWrite === "number" ? "ok" : lastErrno();
const readable = libc.mmap(null, 4096, PROT_READ, MAP_SHARED, fd, 0) as number;
const mprotect = libc.mprotect(readable as never, 4096, PROT_READ | PROT_WRITE) === 0 ? "ok" : lastErrno();
const punch = libc.fallocate(fd, 3, 0, 4096) === 0 ? "ok" : lastErrno(); // PUNCH_HOLE | KEEP_SIZE
const attacks = {
  write: attempt(() => writeSync(fd, new Uint8Array([1]), 0, 1, 0)),
  ftruncate: attempt(() => ftruncateSync(fd, 0)),
  punch,
  mmapWrite: mmapWriteErr,
  mprotect,
  reopenReadWrite: attempt(() => openSync(`/proc/self/fd/${fd}`, "r+")),
  reopenWriteOnly: attempt(() => openSync(`/proc/self/fd/${fd}`, "w")),
  fchmod: attempt(() => fchmodSync(fd, 0o666)),
};

const id = ObjectID.fromHex(hex);
const [buffer] = await client.getBuffers([id], { timeoutMs: 10_000 });
const expected = Number(byteText);
const address = buffer === null || buffer === undefined ? 0 : (ptr(buffer) as number);
// Zero copy: the bytes are inside this process's read-only (r--s) mapping of the arena file.
const inArenaMapping = readFileSync("/proc/self/maps", "utf8")
  .split("\n")
  .filter((line) => line.includes("plasma-arena"))
  .some((line) => {
    const [range, perms] = line.split(" ");
    const [from, to] = (range ?? "").split("-").map((h) => Number.parseInt(h, 16));
    return perms === "r--s" && address >= (from ?? 0) && address + Number(lengthText) <= (to ?? 0);
  });
const read = {
  length: buffer?.length ?? -1,
  allExpected: buffer?.every((b) => b === expected) ?? false,
  inArenaMapping,
};
await client.release(id);
const other = ObjectID.fromRandom();
const requests = {
  create: await refused(() => client.create(other, 10)),
  createAndSeal: await refused(() => client.createAndSeal(other, new Uint8Array(10))),
  put: await refused(() => client.put(new Uint8Array(1 << 20), { id: other })),
  seal: await refused(() => client.seal(id)),
  abort: await refused(() => client.abort(id)),
  delete: await refused(() => client.delete([id])),
  evict: await refused(() => client.evict(1)),
};
const stillContains = await client.contains(id);
console.log(
  JSON.stringify({
    readOnly: client.readOnly,
    uid: process.getuid?.(),
    attacks,
    read,
    requests,
    stillContains,
  }),
);
await client.disconnect();
