/** In-memory sources and sinks for the transfer tests, with the bookkeeping the assertions read. */

import type {
  PullSink,
  PullTarget,
  TransferObject,
  TransferSource,
} from "../../src/cluster/transfer/index.ts";
import type { PlasmaError } from "../../src/protocol/errors.ts";
import { ObjectID } from "../../src/protocol/object-id.ts";

/** Deterministic, position-dependent bytes (a shifted or truncated copy would not match). */
export function patternBytes(sizeBytes: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(sizeBytes);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < sizeBytes; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    bytes[i] = x & 255;
    if (i + 1 < sizeBytes) bytes[i + 1] = (x >>> 8) & 255;
    if (i + 2 < sizeBytes) bytes[i + 2] = (x >>> 16) & 255;
    if (i + 3 < sizeBytes) bytes[i + 3] = (x >>> 24) & 255;
  }
  return bytes;
}

export class MemorySource implements TransferSource {
  readonly #objects = new Map<string, { data: Uint8Array; metadata: Uint8Array }>();
  opened = 0;
  released = 0;

  add(data: Uint8Array, metadata: Uint8Array = new Uint8Array(0)): ObjectID {
    const id = ObjectID.fromRandom();
    this.#objects.set(id.key, { data, metadata });
    return id;
  }

  open(id: ObjectID): TransferObject | null {
    const entry = this.#objects.get(id.key);
    if (entry === undefined) return null;
    this.opened++;
    const { data, metadata } = entry;
    let released = false;
    return {
      dataSize: data.length,
      metadataSize: metadata.length,
      read(offset, target) {
        let at = 0;
        if (offset < data.length) {
          const fromData = data.subarray(offset, Math.min(data.length, offset + target.length));
          target.set(fromData);
          at = fromData.length;
        }
        if (at < target.length) {
          const start = offset + at - data.length;
          target.set(metadata.subarray(start, start + target.length - at), at);
        }
      },
      release: () => {
        if (released) throw new Error("released twice");
        released = true;
        this.released++;
      },
    };
  }
}

/** One pulled object as the sink saw it. */
export class MemoryTarget implements PullTarget {
  readonly bytes: Uint8Array;
  readonly dataSize: number;
  writtenBytes = 0;
  outOfBounds = 0;
  committed = false;
  aborted = 0;
  /** Called before each write lands (a test hook: kill or stop the source mid-pull, or throw). */
  readonly onWrite: ((offset: number) => void) | null;

  constructor(dataSize: number, metadataSize: number, onWrite: ((offset: number) => void) | null = null) {
    this.onWrite = onWrite;
    this.dataSize = dataSize;
    this.bytes = new Uint8Array(dataSize + metadataSize);
  }

  write(offset: number, bytes: Uint8Array): void {
    if (offset < 0 || offset + bytes.length > this.bytes.length) {
      this.outOfBounds++;
      throw new Error(`write of ${bytes.length} at ${offset} is outside ${this.bytes.length} bytes`);
    }
    if (this.committed || this.aborted > 0) throw new Error("write after the end");
    this.onWrite?.(offset);
    this.bytes.set(bytes, offset);
    this.writtenBytes += bytes.length;
  }

  commit(): void {
    if (this.aborted > 0) throw new Error("commit after abort");
    this.committed = true;
  }

  abort(): void {
    this.aborted++;
  }

  get data(): Uint8Array {
    return this.bytes.subarray(0, this.dataSize);
  }
  get metadata(): Uint8Array {
    return this.bytes.subarray(this.dataSize);
  }
}

export class MemorySink implements PullSink {
  readonly targets: MemoryTarget[] = [];
  refuseWith: PlasmaError | null = null;
  onWrite: ((offset: number) => void) | null = null;

  begin(dataSize: number, metadataSize: number): PullTarget | PlasmaError {
    if (this.refuseWith !== null) return this.refuseWith;
    const target = new MemoryTarget(dataSize, metadataSize, this.onWrite);
    this.targets.push(target);
    return target;
  }

  get only(): MemoryTarget {
    if (this.targets.length !== 1) throw new Error(`expected one target, got ${this.targets.length}`);
    return this.targets[0] as MemoryTarget;
  }
}
