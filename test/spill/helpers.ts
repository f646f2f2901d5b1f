/** Shared by the spill tests: a log sink, deterministic content, and valid spill files made in memory. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino, { type Logger } from "pino";
import type { ObjectID, PlasmaClient } from "../../src/client/index.ts";
import { encodeHeader, spillFileName, xxh64 } from "../../src/spill/format.ts";

export interface CapturedLog {
  logger: Logger;
  /** Parsed JSON lines, in order. */
  lines: Array<Record<string, unknown>>;
}

export function captureLog(): CapturedLog {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/** `length` bytes of a xorshift sequence from `seed` (never all zero, differs per seed). */
export function patternBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  const words = new Uint32Array(bytes.buffer, 0, Math.floor(length / 4));
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  for (let i = words.length * 4; i < length; i++) bytes[i] = (seed + i) & 0xff;
  return bytes;
}

export function idOf(n: number): Uint8Array {
  const id = new Uint8Array(20);
  new DataView(id.buffer).setUint32(16, n);
  id[0] = 0xab;
  return id;
}

/** The bytes of a valid spill file for this id and content. */
export function spillFileBytesFor(id: Uint8Array, data: Uint8Array, metadata: Uint8Array): Uint8Array {
  const content = new Uint8Array(data.length + metadata.length);
  content.set(data, 0);
  content.set(metadata, data.length);
  const header = encodeHeader({
    id,
    dataSizeBytes: data.length,
    metadataSizeBytes: metadata.length,
    contentHash: xxh64(content),
  });
  const file = new Uint8Array(header.length + content.length);
  file.set(header, 0);
  file.set(content, header.length);
  return file;
}

/** Writes a valid spill file into `dir`; returns its path. */
export function writeSpillFile(dir: string, id: Uint8Array, data: Uint8Array, metadata: Uint8Array): string {
  const path = join(dir, spillFileName(id));
  writeFileSync(path, spillFileBytesFor(id, data, metadata));
  return path;
}

/** A fresh spill directory (outside the store's own temp dir, which stop() removes). */
export function spillDir(): string {
  return mkdtempSync(join(tmpdir(), "plasma-spill-test-"));
}

export async function putObject(client: PlasmaClient, id: ObjectID, data: Uint8Array, metadata: Uint8Array) {
  const buffer = await client.create(id, data.length, metadata);
  buffer.set(data);
  await client.seal(id);
  await client.release(id);
}

export async function readBack(client: PlasmaClient, id: ObjectID): Promise<Uint8Array> {
  const [buffer] = await client.getBuffers([id], { timeoutMs: 0 });
  if (buffer === null || buffer === undefined) throw new Error(`object ${id.hex()} not found`);
  const copy = Uint8Array.from(buffer);
  await client.release(id);
  return copy;
}
