/**
 * The transfer when things go wrong: a source killed or stopped mid-pull, hostile sources sending what
 * they may not, pullers that misbehave. The target is aborted, never committed, never written outside.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import {
  pullObject,
  TransferChecksumError,
  TransferConnectionError,
  TransferFailedError,
  TransferProtocolError,
  TransferServer,
  TransferStalledError,
  TransferTimeoutError,
} from "../../src/cluster/transfer/index.ts";
import {
  CHUNK_HEADER_BYTES,
  encodeError,
  encodeHeader,
  encodeHello,
  FRAME_HEADER_BYTES,
  FrameType,
  WireError,
  writeChunkHeader,
} from "../../src/cluster/transfer/wire.ts";
import { ObjectID } from "../../src/protocol/object-id.ts";
import { waitUntil } from "../helpers/wait.ts";
import { CHILD_TOKEN, type SourceProcess, startSourceProcess } from "./source-process.ts";
import { MemorySink, MemorySource, type MemoryTarget, patternBytes } from "./transfer-helpers.ts";

const CHUNK = 64 * 1024;
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function header(dataSize: number, metadataSize = 0, chunkBytes = CHUNK): Uint8Array {
  return encodeHeader({ dataSize, metadataSize, chunkBytes, checksumKind: 1 });
}

function chunk(offset: number, bytes: Uint8Array, crc32 = Bun.hash.crc32(bytes)): Uint8Array {
  const frame = new Uint8Array(FRAME_HEADER_BYTES + CHUNK_HEADER_BYTES + bytes.length);
  writeChunkHeader(new DataView(frame.buffer), offset, bytes.length, crc32);
  frame.set(bytes, FRAME_HEADER_BYTES + CHUNK_HEADER_BYTES);
  return frame;
}

/** A raw TCP server that answers the first bytes of any puller with `frames`, then says nothing more. */
function hostileSource(frames: Uint8Array[], closeAfter = false): { host: string; port: number } {
  const listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket) {
        if ((socket.data as { answered?: boolean } | undefined)?.answered) return;
        socket.data = { answered: true } as never;
        for (const frame of frames) socket.write(frame);
        if (closeAfter) socket.end();
      },
    },
  });
  cleanups.push(() => listener.stop(true));
  return { host: "127.0.0.1", port: listener.port };
}

async function pullExpectingFailure(
  address: { host: string; port: number },
  options: Parameters<typeof pullObject>[4] = {},
): Promise<{ error: unknown; sink: MemorySink }> {
  const sink = new MemorySink();
  const error = await pullObject(address, "t", ObjectID.fromRandom(), sink, {
    chunkBytes: CHUNK,
    ...options,
  }).then(
    (result) => new Error(`the pull succeeded: ${JSON.stringify(result)}`),
    (e: unknown) => e,
  );
  return { error, sink };
}

function expectAbortedInside(target: MemoryTarget, maxWrittenBytes: number): void {
  expect(target.aborted).toBe(1);
  expect(target.committed).toBe(false);
  expect(target.outOfBounds).toBe(0);
  expect(target.writtenBytes).toBeLessThanOrEqual(maxWrittenBytes);
}

describe("a hostile source", () => {
  test("a chunk at an offset past the object is refused before anything is written", async () => {
    const address = hostileSource([header(100_000), chunk(200_000, patternBytes(100, 1))]);
    const { error, sink } = await pullExpectingFailure(address);
    expect(error).toBeInstanceOf(TransferProtocolError);
    expect((error as TransferProtocolError).code).toBe("PROTOCOL_ERROR");
    expectAbortedInside(sink.only, 0);
  });

  test("a chunk longer than the object is refused before anything is written", async () => {
    const address = hostileSource([header(1000), chunk(0, patternBytes(2000, 1))]);
    const { error, sink } = await pullExpectingFailure(address);
    expect(error).toBeInstanceOf(TransferProtocolError);
    expectAbortedInside(sink.only, 0);
  });

  test("more chunks than the announced size allows stop at the announced size", async () => {
    const address = hostileSource([
      header(100_000),
      chunk(0, patternBytes(CHUNK, 1)),
      chunk(CHUNK, patternBytes(CHUNK, 2)),
    ]);
    const { error, sink } = await pullExpectingFailure(address);
    expect(error).toBeInstanceOf(TransferProtocolError);
    expectAbortedInside(sink.only, CHUNK);
  });

  test("a chunk whose bytes do not match its checksum aborts the pull", async () => {
    const bytes = patternBytes(5000, 1);
    const address = hostileSource([header(5000), chunk(0, bytes, Bun.hash.crc32(bytes) ^ 1)]);
    const { error, sink } = await pullExpectingFailure(address);
    expect(error).toBeInstanceOf(TransferChecksumError);
    expect((error as TransferChecksumError).code).toBe("TRANSFER_CHECKSUM");
    expectAbortedInside(sink.only, 5000);
  });

  test("a corrupt chunk in the middle of a good stream aborts, however the bytes were split", async () => {
    const good = chunk(0, patternBytes(CHUNK, 1));
    const bad = chunk(CHUNK, patternBytes(CHUNK, 2));
    bad[bad.length - 7] = (bad[bad.length - 7] as number) ^ 0x40;
    const address = hostileSource([header(2 * CHUNK), good.subarray(0, 999), good.subarray(999), bad]);
    const { error, sink } = await pullExpectingFailure(address);
    expect(error).toBeInstanceOf(TransferChecksumError);
    expectAbortedInside(sink.only, 2 * CHUNK);
  });

  test("sizes past the pull's limit, or chunks larger than asked for, are refused before begin()", async () => {
    for (const [frames, options] of [
      [[header(2 ** 60)], {}],
      [[header(10_000, 1)], { maxObjectBytes: 10_000 }],
      [[header(10_000, 0, CHUNK * 2)], {}],
      [[encodeHeader({ dataSize: 10, metadataSize: 0, chunkBytes: CHUNK, checksumKind: 9 })], {}],
    ] as const) {
      const { error, sink } = await pullExpectingFailure(hostileSource([...frames]), options);
      expect(error).toBeInstanceOf(TransferProtocolError);
      expect(sink.targets).toHaveLength(0);
    }
  });

  test("a frame claiming 4 GiB, an unknown frame, a chunk before the header are protocol errors", async () => {
    const huge = new Uint8Array([0xff, 0xff, 0xff, 0xff, FrameType.HEADER]);
    const unknown = new Uint8Array([0, 0, 0, 0, 77]);
    const early = chunk(0, patternBytes(10, 1));
    for (const frames of [[huge], [unknown], [early], [header(10), header(10)]]) {
      const { error } = await pullExpectingFailure(hostileSource(frames));
      expect(error).toBeInstanceOf(TransferProtocolError);
    }
  });

  test("an error from the source mid-pull aborts with TransferFailedError", async () => {
    const frames = [
      header(3 * CHUNK),
      chunk(0, patternBytes(CHUNK, 1)),
      encodeError(WireError.SOURCE_FAILED, "disk on fire"),
    ];
    const { error, sink } = await pullExpectingFailure(hostileSource(frames));
    expect(error).toBeInstanceOf(TransferFailedError);
    expect((error as Error).message).toContain("disk on fire");
    expectAbortedInside(sink.only, CHUNK);
  });

  test("a source that closes early is a TransferConnectionError", async () => {
    const address = hostileSource([header(3 * CHUNK), chunk(0, patternBytes(CHUNK, 1))], true);
    const { error, sink } = await pullExpectingFailure(address);
    expect(error).toBeInstanceOf(TransferConnectionError);
    expect((error as Error).message).toContain(`after ${CHUNK} of ${3 * CHUNK} bytes`);
    expectAbortedInside(sink.only, CHUNK);
  });

  test("a source that goes silent stalls; one that is too slow overall times out", async () => {
    const stalled = await pullExpectingFailure(hostileSource([header(3 * CHUNK)]), { stallTimeoutMs: 200 });
    expect(stalled.error).toBeInstanceOf(TransferStalledError);
    expect((stalled.error as TransferStalledError).code).toBe("TRANSFER_STALLED");
    expectAbortedInside(stalled.sink.only, 0);
    const late = await pullExpectingFailure(hostileSource([header(3 * CHUNK)]), {
      stallTimeoutMs: 60_000,
      timeoutMs: 200,
    });
    expect(late.error).toBeInstanceOf(TransferTimeoutError);
    expect((late.error as TransferTimeoutError).code).toBe("TRANSFER_TIMEOUT");
    expectAbortedInside(late.sink.only, 0);
  });
});

describe("a misbehaving puller", () => {
  function serve(source: MemorySource, idleTimeoutMs?: number): TransferServer {
    const server = TransferServer.listen({
      port: 0,
      source,
      token: "t",
      ...(idleTimeoutMs ? { idleTimeoutMs } : {}),
    });
    cleanups.push(() => server.stop());
    return server;
  }

  /** Connects a raw socket, writes `bytes`, resolves with everything received until the server closes. */
  async function rawExchange(port: number, bytes: Uint8Array): Promise<Uint8Array> {
    const received: Uint8Array[] = [];
    return new Promise((resolve, reject) => {
      Bun.connect({
        hostname: "127.0.0.1",
        port,
        socket: {
          open: (socket: Socket) => void socket.write(bytes),
          data: (_socket, data) => void received.push(new Uint8Array(data)),
          close: () => resolve(Buffer.concat(received)),
          connectError: (_socket, error) => reject(error),
        },
      }).catch(reject);
    });
  }

  test("an oversized frame is answered with BAD_REQUEST and the connection closed", async () => {
    const source = new MemorySource();
    const server = serve(source);
    const reply = await rawExchange(
      server.address.port,
      new Uint8Array([0, 0, 0, 0x40, FrameType.HELLO, 1, 2, 3]),
    );
    expect(reply[4]).toBe(FrameType.ERROR);
    expect(reply[5]).toBe(WireError.BAD_REQUEST);
    expect(source.opened).toBe(0);
  });

  test("a PULL before HELLO is refused", async () => {
    const source = new MemorySource();
    const id = source.add(patternBytes(10, 1));
    const server = serve(source);
    const pull = new Uint8Array(FRAME_HEADER_BYTES + 28);
    new DataView(pull.buffer).setUint32(0, 28, true);
    pull[4] = FrameType.PULL;
    pull.set(id.bytes, 5);
    const reply = await rawExchange(server.address.port, pull);
    expect(reply[5]).toBe(WireError.BAD_REQUEST);
    expect(source.opened).toBe(0);
  });

  test("a connection that sends nothing is closed after the idle timeout", async () => {
    const server = serve(new MemorySource(), 1000);
    const reply = await rawExchange(server.address.port, encodeHello("t").subarray(0, 3));
    expect(reply.length).toBe(0);
    expect(server.stats().connections).toBe(0);
  });

  test("a sink whose write throws fails the pull with that error; the server releases the object", async () => {
    const source = new MemorySource();
    const id = source.add(patternBytes(20 * CHUNK, 1));
    const server = serve(source);
    const sink = new MemorySink();
    sink.onWrite = (offset) => {
      if (offset >= 3 * CHUNK) throw new Error("arena went away");
    };
    const error = await pullObject(server.address, "t", id, sink, {
      chunkBytes: CHUNK,
      windowChunks: 2,
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe("arena went away");
    expectAbortedInside(sink.only, 3 * CHUNK);
    await waitUntil("the server released the object", () => source.released === 1);
    await waitUntil("the server closed the connection", () => server.stats().connections === 0);
  });
});

describe("a source process that dies or stops mid-pull", () => {
  const OBJECT_BYTES = 64 * 1024 * 1024;

  async function child(): Promise<SourceProcess> {
    const source = await startSourceProcess(OBJECT_BYTES, 11);
    cleanups.push(() => source.kill());
    return source;
  }

  test("SIGKILL: the target is aborted, the error surfaced, nothing committed", async () => {
    const source = await child();
    const sink = new MemorySink();
    sink.onWrite = (offset) => {
      if (offset === 0) source.proc.kill("SIGKILL");
    };
    const error = await pullObject({ host: "127.0.0.1", port: source.port }, CHILD_TOKEN, source.id, sink, {
      chunkBytes: CHUNK,
      windowChunks: 2,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransferConnectionError);
    expectAbortedInside(sink.only, OBJECT_BYTES - 1);
  });

  test("SIGSTOP: the stall is detected, the target aborted", async () => {
    const source = await child();
    const sink = new MemorySink();
    sink.onWrite = (offset) => {
      if (offset === 0) source.proc.kill("SIGSTOP");
    };
    const error = await pullObject({ host: "127.0.0.1", port: source.port }, CHILD_TOKEN, source.id, sink, {
      chunkBytes: CHUNK,
      windowChunks: 2,
      stallTimeoutMs: 500,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransferStalledError);
    expectAbortedInside(sink.only, OBJECT_BYTES - 1);
  });

  test("the same source process, left alone, serves the object byte-identical", async () => {
    const source = await child();
    const sink = new MemorySink();
    const result = await pullObject({ host: "127.0.0.1", port: source.port }, CHILD_TOKEN, source.id, sink);
    expect(result.status).toBe("pulled");
    expect(Buffer.compare(sink.only.data, patternBytes(OBJECT_BYTES, 11))).toBe(0);
  });
});
