/** Passing descriptors over Unix sockets: sendmsg/recvmsg with one SCM_RIGHTS control message. */
import { ptr } from "bun:ffi";
import { closeFd } from "./fd.ts";
import { ERRNO, errno, libc, SystemError } from "./libc.ts";
import { getU64, type Scratch, scratch, setU64 } from "./struct.ts";

const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_CTRUNC = 0x8;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const MSG_CMSG_CLOEXEC = 0x40000000;
const POLLIN = 0x1;
const POLLNVAL = 0x20;

// x86-64 layouts. struct msghdr (56 bytes): name@0 namelen@8 iov@16 iovlen@24 control@32 controllen@40
// flags@48. struct iovec (16): base@0 len@8. struct cmsghdr: len u64@0, level i32@8, type i32@12, data@16.
const MSGHDR_SIZE = 56;
const IOVEC_SIZE = 16;
const CMSG_HEADER = 16;
const MAX_RECEIVED_FDS = 16;
const RECV_CONTROL_SIZE = CMSG_HEADER + 4 * MAX_RECEIVED_FDS; // already a multiple of 8
/** Most descriptors one sendFds call attaches. */
export const MAX_SENT_FDS = 4;
const SEND_CONTROL_SIZE = CMSG_HEADER + 8 * Math.ceil((4 * MAX_SENT_FDS) / 8); // CMSG_SPACE(4 ints)

/** The peer did not send within the timeout (errnoName "ETIMEDOUT"). */
export class TimeoutError extends SystemError {
  constructor(syscall: string, timeoutMs: number) {
    super(syscall, ERRNO.ETIMEDOUT, `nothing to read after ${timeoutMs} ms`);
    this.name = "TimeoutError";
  }
}

/** msghdr + iovec (+ control) in one fixed block, pre-linked; per call only the iovec changes. */
function messageBlock(controlSize: number): Scratch {
  const block = scratch(MSGHDR_SIZE + IOVEC_SIZE + controlSize);
  setU64(block.view, 16, block.address + MSGHDR_SIZE); // msg_iov
  setU64(block.view, 24, 1); // msg_iovlen
  if (controlSize > 0) {
    setU64(block.view, 32, block.address + MSGHDR_SIZE + IOVEC_SIZE); // msg_control
    setU64(block.view, 40, controlSize); // msg_controllen
  }
  return block;
}

const IOV = MSGHDR_SIZE;
const CONTROL = MSGHDR_SIZE + IOVEC_SIZE;

const sendWithFd = messageBlock(SEND_CONTROL_SIZE);
sendWithFd.view.setInt32(CONTROL + 8, SOL_SOCKET, true);
sendWithFd.view.setInt32(CONTROL + 12, SCM_RIGHTS, true);
const sendPlain = messageBlock(0);

/**
 * Send `payload` with `fdToSend` attached (SCM_RIGHTS), without blocking (MSG_DONTWAIT | MSG_NOSIGNAL).
 * Throws SystemError on failure, EAGAIN included. A partial send (the socket buffer took only part of the
 * payload; the fd went with that part) also throws EAGAIN: the stream is then out of step, drop the peer.
 * The payload must be non-empty: a stream socket cannot carry a descriptor on zero bytes.
 */
export function sendFd(socketFd: number, fdToSend: number, payload: Uint8Array): void {
  sendFds(socketFd, [fdToSend], payload);
}

/**
 * sendFd with 1 to MAX_SENT_FDS descriptors in one SCM_RIGHTS control message, received in this order
 * (recvFd's `fds`).
 */
export function sendFds(socketFd: number, fdsToSend: readonly number[], payload: Uint8Array): void {
  if (payload.byteLength === 0) {
    throw new RangeError("sendFd needs at least one payload byte to carry the fd");
  }
  if (fdsToSend.length < 1 || fdsToSend.length > MAX_SENT_FDS) {
    throw new RangeError(`sendFds sends 1 to ${MAX_SENT_FDS} descriptors, got ${fdsToSend.length}`);
  }
  const view = sendWithFd.view;
  view.setUint32(CONTROL, CMSG_HEADER + 4 * fdsToSend.length, true); // cmsg_len = CMSG_LEN(4n)
  view.setUint32(CONTROL + 4, 0, true);
  for (let i = 0; i < fdsToSend.length; i++) {
    view.setInt32(CONTROL + CMSG_HEADER + 4 * i, fdsToSend[i] as number, true);
  }
  setU64(view, 40, CMSG_HEADER + 8 * Math.ceil((4 * fdsToSend.length) / 8)); // msg_controllen = CMSG_SPACE
  const sent = send(sendWithFd, socketFd, payload, "sendFd");
  if (sent !== payload.byteLength) {
    throw new SystemError(
      "sendmsg",
      ERRNO.EAGAIN,
      `sendFd: only ${sent} of ${payload.byteLength} bytes were sent (the fd went with them)`,
    );
  }
}

/**
 * Send `payload` with the same flags as sendFd but no descriptor. Returns the bytes sent, which can be fewer
 * than the payload when the socket buffer fills; throws SystemError EAGAIN when nothing could be sent.
 */
export function sendBytes(socketFd: number, payload: Uint8Array): number {
  if (payload.byteLength === 0) return 0;
  return send(sendPlain, socketFd, payload, "sendBytes");
}

function send(block: Scratch, socketFd: number, payload: Uint8Array, what: string): number {
  setU64(block.view, IOV, ptr(payload));
  setU64(block.view, IOV + 8, payload.byteLength);
  for (;;) {
    const sent = Number(libc.sendmsg(socketFd, block.bytes, MSG_DONTWAIT | MSG_NOSIGNAL));
    if (sent >= 0) return sent;
    const code = errno();
    if (code !== ERRNO.EINTR) throw new SystemError("sendmsg", code, `${what} on fd ${socketFd}`);
  }
}

export interface ReceivedMessage {
  /** The first descriptor received (close-on-exec), or null. Descriptors past the ones kept are closed. */
  fd: number | null;
  /** The descriptors kept (recvFd keeps 1, recvFds up to its maxFds), in the sender's order; fd is fds[0]. */
  fds: number[];
  /** Exactly the bytes this recvmsg returned (a copy); empty when the peer closed. */
  payload: Uint8Array;
}

const recvBlock = messageBlock(RECV_CONTROL_SIZE);
const pollFd = scratch(8);
let recvBuffer = new Uint8Array(new ArrayBuffer(4096));
let recvBufferAddress = ptr(recvBuffer) as number;

/**
 * Block until `socketFd` is readable (poll, up to `timeoutMs`; negative or Infinity waits forever), then
 * recvmsg at most `maxPayloadBytes` with MSG_CMSG_CLOEXEC. Throws TimeoutError on timeout.
 */
export function recvFd(socketFd: number, maxPayloadBytes: number, timeoutMs: number): ReceivedMessage {
  return recvFds(socketFd, maxPayloadBytes, timeoutMs, 1);
}

/** recvFd keeping up to `maxFds` descriptors of the first SCM_RIGHTS message (the caller closes them). */
export function recvFds(
  socketFd: number,
  maxPayloadBytes: number,
  timeoutMs: number,
  maxFds: number,
): ReceivedMessage {
  if (!Number.isSafeInteger(maxPayloadBytes) || maxPayloadBytes <= 0) {
    throw new RangeError(`maxPayloadBytes must be a positive integer, got ${maxPayloadBytes}`);
  }
  if (recvBuffer.byteLength < maxPayloadBytes) {
    recvBuffer = new Uint8Array(new ArrayBuffer(maxPayloadBytes));
    recvBufferAddress = ptr(recvBuffer);
  }
  const deadline = timeoutMs >= 0 && Number.isFinite(timeoutMs) ? performance.now() + timeoutMs : Infinity;
  for (;;) {
    waitReadable(socketFd, deadline, timeoutMs);
    const view = recvBlock.view;
    setU64(view, IOV, recvBufferAddress);
    setU64(view, IOV + 8, maxPayloadBytes);
    setU64(view, 40, RECV_CONTROL_SIZE);
    view.setInt32(48, 0, true);
    const received = Number(libc.recvmsg(socketFd, recvBlock.bytes, MSG_CMSG_CLOEXEC | MSG_DONTWAIT));
    if (received < 0) {
      const code = errno();
      if (code === ERRNO.EINTR || code === ERRNO.EAGAIN) continue; // spurious wake-up or raced reader
      throw new SystemError("recvmsg", code, `fd ${socketFd}`);
    }
    const fds = takeDescriptors(view, maxFds);
    return { fd: fds[0] ?? null, fds, payload: recvBuffer.slice(0, received) };
  }
}

/** Walk the control messages; keep the first `maxFds` fds of the first SCM_RIGHTS message, close the rest. */
function takeDescriptors(view: DataView, maxFds: number): number[] {
  const controlLength = getU64(view, 40);
  const kept: number[] = [];
  let taken = false;
  for (let offset = 0; offset + CMSG_HEADER <= controlLength; ) {
    const length = getU64(view, CONTROL + offset);
    if (length < CMSG_HEADER || offset + length > controlLength) break;
    const level = view.getInt32(CONTROL + offset + 8, true);
    const type = view.getInt32(CONTROL + offset + 12, true);
    if (level === SOL_SOCKET && type === SCM_RIGHTS) {
      for (let at = CMSG_HEADER; at + 4 <= length; at += 4) {
        const fd = view.getInt32(CONTROL + offset + at, true);
        if (!taken && kept.length < maxFds) kept.push(fd);
        else closeFd(fd);
      }
      taken = true;
    }
    offset += Math.ceil(length / 8) * 8;
  }
  if (kept.length === 0 && (view.getInt32(48, true) & MSG_CTRUNC) !== 0) {
    throw new SystemError(
      "recvmsg",
      ERRNO.EMSGSIZE,
      "control data truncated (MSG_CTRUNC), the descriptor was lost: is the fd limit (EMFILE) reached?",
    );
  }
  return kept;
}

function waitReadable(socketFd: number, deadline: number, timeoutMs: number): void {
  pollFd.view.setInt32(0, socketFd, true);
  pollFd.view.setInt16(4, POLLIN, true);
  for (;;) {
    pollFd.view.setInt16(6, 0, true);
    const wait = deadline === Infinity ? -1 : Math.max(0, Math.ceil(deadline - performance.now()));
    const ready = libc.poll(pollFd.bytes, 1, wait);
    if (ready > 0) {
      if ((pollFd.view.getInt16(6, true) & POLLNVAL) !== 0) {
        throw new SystemError("poll", ERRNO.EBADF, `fd ${socketFd} is not open`);
      }
      return; // POLLIN, POLLHUP or POLLERR: recvmsg reports which
    }
    if (ready === 0) {
      if (performance.now() >= deadline) throw new TimeoutError("recvFd", timeoutMs);
      continue;
    }
    const code = errno();
    if (code !== ERRNO.EINTR) throw new SystemError("poll", code, `fd ${socketFd}`);
  }
}
