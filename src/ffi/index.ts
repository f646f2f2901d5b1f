/** The FFI layer: the only code in bun-plasma that touches pointers and libc. */

export { dupFd, reopenProcessFd } from "./fd.ts";
export {
  MAX_SENT_FDS,
  type ReceivedMessage,
  recvFd,
  recvFds,
  sendBytes,
  sendFd,
  sendFds,
  TimeoutError,
} from "./fdpass.ts";
export { describeErrno, ERRNO, type ErrnoName, errno, errnoName, SystemError } from "./libc.ts";
export {
  type ArenaBacking,
  type ArenaFile,
  type CreateArenaOptions,
  changeMode,
  closeFd,
  createArenaFile,
  type FilesystemSpace,
  filesystemFreeBytes,
  HUGE_PAGE_SIZE,
  HUGETLBFS_MAGIC,
  hugePagePool,
  isReadOnlyFd,
  MAX_VIEW_BYTES,
  type MapOptions,
  mapShared,
  openProcessMemory,
  preadFully,
  prefault,
  pwriteFully,
  reopenReadOnly,
  reserveArenaFile,
  residentBytes,
  SYSTEM_PAGE_SIZE,
  sealReadOnlyForOthers,
  TMPFS_MAGIC,
  unmap,
  viewOf,
} from "./memory.ts";
export { checkCopyThreads, ParallelCopier } from "./parallel-copy.ts";
export {
  connectUnix,
  isSocketListening,
  MAX_UNIX_PATH_BYTES,
  type PeerCredentials,
  peerCredentials,
  processIdentity,
  setNonBlocking,
  socketPair,
} from "./socket.ts";
