/** Shared memory: arena files, their mappings and zero-copy views (one import for the rest of the project). */
export {
  type ArenaBacking,
  type ArenaFile,
  type CreateArenaOptions,
  createArenaFile,
  HUGE_PAGE_SIZE,
  reserveArenaFile,
  SYSTEM_PAGE_SIZE,
  sealReadOnlyForOthers,
} from "./arena.ts";
export { closeFd } from "./fd.ts";
export {
  changeMode,
  isReadOnlyFd,
  openProcessMemory,
  preadFully,
  pwriteFully,
  reopenReadOnly,
} from "./file-io.ts";
export {
  MAX_VIEW_BYTES,
  type MapOptions,
  mapShared,
  prefault,
  residentBytes,
  unmap,
  viewOf,
} from "./mapping.ts";
export {
  type FilesystemSpace,
  filesystemFreeBytes,
  HUGETLBFS_MAGIC,
  hugePagePool,
  TMPFS_MAGIC,
} from "./statfs.ts";
