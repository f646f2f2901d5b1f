/** Test-only helpers for the FFI tests: temp dirs, fd checks, /proc/self/maps, raw libc calls. */
import { dlopen, ptr } from "bun:ffi";
import { fstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const raw = dlopen("libc.so.6", {
  socket: { args: ["i32", "i32", "i32"], returns: "i32" },
  bind: { args: ["i32", "ptr", "u32"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
  sendmsg: { args: ["i32", "ptr", "i32"], returns: "i64" },
  ftruncate: { args: ["i32", "i64"], returns: "i32" },
  fcntl: { args: ["i32", "i32", "i64"], returns: "i32" },
}).symbols;

export const rawLibc = raw;

/** The error fn throws; throws itself if fn returns. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a throw");
}

export function makeTempDir(root = tmpdir()): string {
  return mkdtempSync(join(root, "bun-plasma-ffi-"));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function isFdOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

/** The kernel descriptor of a Bun.listen / Bun.connect socket (present at runtime, not in the types). */
export function fdOfBunSocket(socket: unknown): number {
  const fd = (socket as { fd?: unknown }).fd;
  if (typeof fd !== "number" || fd < 0) throw new Error(`socket has no fd (${String(fd)})`);
  return fd;
}

/** The /proc/self/maps line of the mapping that starts at `address`, or null. */
export function mapsLineAt(address: number): string | null {
  const start = address.toString(16);
  for (const line of readFileSync("/proc/self/maps", "utf8").split("\n")) {
    if (line.startsWith(`${start}-`)) return line;
  }
  return null;
}

/** Targets of /proc/self/fd entries containing `needle` (e.g. "memfd:name"). */
export function openFdsMatching(needle: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync("/proc/self/fd")) {
    try {
      const target = readlinkSync(`/proc/self/fd/${entry}`);
      if (target.includes(needle)) found.push(target);
    } catch {
      // the fd used by readdir itself is gone by now
    }
  }
  return found;
}

/** Leave a socket file nobody listens on: bind without listen, then close. */
export function makeStaleSocket(path: string): void {
  const fd = raw.socket(1, 1, 0);
  if (fd < 0) throw new Error("socket failed");
  const addr = new Uint8Array(110);
  new DataView(addr.buffer).setUint16(0, 1, true);
  addr.set(new TextEncoder().encode(path), 2);
  const rc = raw.bind(fd, addr, 110);
  raw.close(fd);
  if (rc !== 0) throw new Error(`bind ${path} failed`);
}

/** sendmsg with several SCM_RIGHTS descriptors in one control message. */
export function sendManyFds(socketFd: number, fds: number[], payload: Uint8Array): number {
  const controlLen = 16 + 4 * fds.length;
  const control = new Uint8Array(Math.ceil(controlLen / 8) * 8);
  const cv = new DataView(control.buffer);
  cv.setUint32(0, controlLen, true);
  cv.setInt32(8, 1, true);
  cv.setInt32(12, 1, true);
  fds.forEach((fd, i) => {
    cv.setInt32(16 + 4 * i, fd, true);
  });
  const iov = new Uint8Array(16);
  const iv = new DataView(iov.buffer);
  iv.setBigUint64(0, BigInt(ptr(payload)), true);
  iv.setBigUint64(8, BigInt(payload.length), true);
  const msg = new Uint8Array(56);
  const mv = new DataView(msg.buffer);
  mv.setBigUint64(16, BigInt(ptr(iov)), true);
  mv.setBigUint64(24, 1n, true);
  mv.setBigUint64(32, BigInt(ptr(control)), true);
  mv.setBigUint64(40, BigInt(control.length), true);
  return Number(raw.sendmsg(socketFd, msg, 0));
}
