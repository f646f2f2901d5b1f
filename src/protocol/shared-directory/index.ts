/** The shared-memory object directory and pin tables (docs/shared-directory.md). Pure: no FFI, no I/O. */
export { AcquireStatus, type AcquireStatusValue, DirectoryAcquirer } from "./acquire.ts";
export {
  DEFAULT_DIRECTORY_CAPACITY,
  DIRECTORY_FORMAT,
  DIRECTORY_HEADER_BYTES,
  DIRECTORY_MAGIC,
  directorySizeBytes,
  ENTRY_BYTES,
  Entry,
  EntryState,
  type EntryStateValue,
  entryBase,
  Header,
  hashIdWords,
  idWords,
  MAX_LOAD_FACTOR,
  readDirectoryHeader,
} from "./layout.ts";
export { collectPins, drainAccesses, isPinned, PinCounts } from "./pin-scanner.ts";
export {
  DEFAULT_ACCESS_RING,
  DEFAULT_PIN_SLOTS,
  initPinTable,
  PIN_TABLE_FORMAT,
  PIN_TABLE_HEADER_BYTES,
  PIN_TABLE_MAGIC,
  PinHeader,
  PinTable,
  type PinTableView,
  pinTableSizeBytes,
  pinTagAt,
} from "./pin-table.ts";
export {
  DirectoryHit,
  DirectoryReader,
  fence,
  LookupStatus,
  type LookupStatusValue,
  MAX_SEQLOCK_RETRIES,
} from "./reader.ts";
export { DeferredRemovals } from "./reclaim.ts";
export { DirectoryWriter, type RemovalTicket } from "./writer.ts";
