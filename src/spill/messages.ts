/** The messages between SpillFiles (main thread) and its worker (worker.ts). Plain data only. */
import type { SpillFormatProblem } from "./errors.ts";

export interface WorkerInit {
  kind: "init";
  /** Int32Array over this buffer: slot 0 set to 1 means "cancel everything, now and later". */
  cancel: SharedArrayBuffer;
  chunkBytes: number;
}

export interface WorkerSpill {
  kind: "spill";
  jobId: number;
  directory: string;
  id: Uint8Array;
  dataSizeBytes: number;
  metadataSizeBytes: number;
  /** Address of data ‖ metadata in this process (0 when both are empty). */
  pointer: number;
}

export interface WorkerRestore {
  kind: "restore";
  jobId: number;
  path: string;
  id: Uint8Array;
  dataSizeBytes: number;
  metadataSizeBytes: number;
  /** Address of the destination for data ‖ metadata (0 when both are empty). */
  pointer: number;
}

export type WorkerRequest = WorkerInit | WorkerSpill | WorkerRestore;

export type WorkerFailure =
  | { kind: "io"; message: string; syscall: string; errno: string; path: string }
  | { kind: "format"; problem: SpillFormatProblem; message: string }
  | { kind: "cancelled"; message: string }
  | { kind: "other"; message: string };

export type WorkerReply =
  | { jobId: number; ok: true; path: string; sizeBytes: number }
  | { jobId: number; ok: false; failure: WorkerFailure };
