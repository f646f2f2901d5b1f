import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Socket, Subprocess } from "bun";
import { connect, ObjectExistsError, ObjectID, type PlasmaClient } from "../../src/client/index.ts";
import { ByteReader, ByteWriter } from "../../src/protocol/bytes.ts";
import {
  BatchCodec,
  type BatchFrame,
  ContainsCodec,
  CreateAndSealCodec,
  ErrorReplyCodec,
  GetCodec,
  HelloCodec,
  MAX_BATCH_FRAMES,
  MessageType,
} from "../../src/protocol/codecs/index.ts";
import { FLAG_ERROR, FLAG_REPLY, FrameReader } from "../../src/protocol/frame.ts";
import { PROTOCOL_VERSION } from "../../src/protocol/limits.ts";
import { useStore } from "../helpers/store-fixture.ts";
import { waitUntil } from "../helpers/wait.ts";

/**
 * Batch frames on the wire: what the client packs into one frame, how the store serves a batch (in
 * order, errors and waits per sub-request) and answers it, and what it refuses.
 */

const fx = useStore({ memory: String(16 * 1024 * 1024) });

interface Seen {
  dir: "c2s" | "s2c";
  type: number;
  flags: number;
  requestId: number;
  subFrames: [number, number, number][];
}

/** The recording proxy of clients/frame-proxy.ts, with the lines it printed so far. */
class RecordingProxy {
  readonly lines: Seen[] = [];
  readonly #proc: Subprocess<"ignore", "pipe", "inherit">;
  readonly socketPath: string;

  constructor(storePath: string, socketPath: string) {
    this.socketPath = socketPath;
    this.#proc = Bun.spawn(["bun", join(import.meta.dir, "clients/frame-proxy.ts"), storePath, socketPath], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "inherit",
    });
    void this.#read();
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    let text = "";
    for await (const chunk of this.#proc.stdout) {
      text += decoder.decode(chunk, { stream: true });
      for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n")) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        if (line === "ready")
          this.lines.push({ dir: "s2c", type: -1, flags: 0, requestId: 0, subFrames: [] });
        else this.lines.push(JSON.parse(line) as Seen);
      }
    }
  }

  async ready(): Promise<void> {
    await waitUntil("the proxy listens", () => this.lines.some((l) => l.type === -1));
  }

  async stop(): Promise<void> {
    this.#proc.kill();
    await this.#proc.exited;
  }
}

/** A raw connection that keeps every frame received, the sub-frames of a Batch as a list of their own. */
class Raw {
  readonly frames: { type: number; flags: number; requestId: number; sub: BatchFrame[]; body: Uint8Array }[] =
    [];
  closed = false;
  #socket: Socket<undefined> | null = null;
  readonly #reader = new FrameReader((type, flags, requestId, body, view) => {
    const sub =
      type === MessageType.Batch
        ? BatchCodec.decodeReply(new ByteReader(body, view)).map((f) => ({ ...f, body: f.body.slice() }))
        : [];
    this.frames.push({ type, flags, requestId, sub, body: body.slice() });
  });

  static async open(socketPath: string): Promise<Raw> {
    const raw = new Raw();
    raw.#socket = await Bun.connect<undefined>({
      unix: socketPath,
      socket: {
        data: (_s, data) => raw.#reader.push(data),
        close: () => {
          raw.closed = true;
        },
      },
    });
    const out = new ByteWriter();
    HelloCodec.encodeRequest(out, 1, { version: PROTOCOL_VERSION, pid: process.pid });
    raw.write(out);
    await waitUntil("the Hello reply", () => raw.frames.some((f) => f.type === MessageType.Hello));
    raw.frames.length = 0;
    return raw;
  }

  write(out: ByteWriter): void {
    this.#socket?.write(out.bytes.subarray(0, out.length));
  }

  close(): void {
    this.#socket?.end();
  }
}

/** A Batch request of the frames `encode` writes (each encoder writes one whole frame). */
function batchOf(...encoders: ((out: ByteWriter) => void)[]): ByteWriter {
  const frames: BatchFrame[] = encoders.map((encode) => {
    const one = new ByteWriter();
    encode(one);
    const view = one.view;
    return {
      type: view.getUint16(4, true),
      flags: view.getUint16(6, true),
      requestId: view.getUint32(8, true),
      body: one.bytes.slice(12, one.length),
    };
  });
  const out = new ByteWriter();
  BatchCodec.encodeRequest(out, 0, frames);
  return out;
}

const bytesOf = (text: string) => new TextEncoder().encode(text);

describe("through the client", () => {
  let proxy: RecordingProxy;
  let client: PlasmaClient;

  beforeAll(async () => {
    proxy = new RecordingProxy(fx.store.socketPath, join(fx.store.dir, "proxy.sock"));
    await proxy.ready();
    client = await connect(proxy.socketPath);
  });

  afterAll(async () => {
    await client.disconnect();
    await proxy.stop();
  });

  test("a burst of mixed requests in one tick travels as one Batch, answered by one Batch", async () => {
    const [a, b, c] = [ObjectID.fromRandom(), ObjectID.fromRandom(), ObjectID.fromRandom()];
    await client.createAndSeal(c, bytesOf("old"));
    const before = proxy.lines.length;
    const results = await Promise.all([
      client.createAndSeal(a, bytesOf("alpha")),
      client.contains(a),
      client.createAndSeal(b, bytesOf("beta"), bytesOf("meta")),
      client.delete([c]),
      client.contains(c),
      client.getBuffers([b], { timeoutMs: 0, withMeta: true }),
    ]);
    expect(results.slice(0, 5)).toEqual([undefined, true, undefined, 1, false]);
    const [got] = results[5];
    expect(new TextDecoder().decode(got?.data)).toBe("beta");
    expect(new TextDecoder().decode(got?.metadata)).toBe("meta");

    await waitUntil("the proxy saw the replies", () =>
      proxy.lines.slice(before).some((l) => l.dir === "s2c" && l.type === MessageType.Batch),
    );
    const seen = proxy.lines.slice(before);
    const sent = seen.filter((l) => l.dir === "c2s");
    expect(sent.map((l) => l.type)).toEqual([MessageType.Batch]);
    const requests = (sent[0] as Seen).subFrames;
    expect(requests.map(([type]) => type)).toEqual([
      MessageType.CreateAndSeal,
      MessageType.Contains,
      MessageType.CreateAndSeal,
      MessageType.Delete,
      MessageType.Contains,
      MessageType.Get,
    ]);
    const replies = seen.filter((l) => l.dir === "s2c" && l.type === MessageType.Batch);
    expect(replies.length).toBe(1);
    expect((replies[0] as Seen).flags).toBe(FLAG_REPLY);
    // Every reply, in the order of the requests, with their request ids.
    expect((replies[0] as Seen).subFrames).toEqual(requests.map(([type, , id]) => [type, FLAG_REPLY, id]));
    await client.release(b);
  });

  test("an error in the middle of a burst is that request's alone", async () => {
    const [a, b] = [ObjectID.fromRandom(), ObjectID.fromRandom()];
    await client.createAndSeal(a, bytesOf("first"));
    const settled = await Promise.allSettled([
      client.createAndSeal(b, bytesOf("b")),
      client.createAndSeal(a, bytesOf("again")),
      client.contains(b),
    ]);
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(ObjectExistsError);
    expect((settled[2] as PromiseFulfilledResult<boolean>).value).toBe(true);
  });

  test("a get that waits in a burst does not hold back the others' replies", async () => {
    const [late, now] = [ObjectID.fromRandom(), ObjectID.fromRandom()];
    const waiting = client.getBuffers([late], { timeoutMs: -1 });
    const others = Promise.all([client.createAndSeal(now, bytesOf("now")), client.contains(now)]);
    expect(await others).toEqual([undefined, true]);
    const other = await connect(fx.store.socketPath);
    await other.createAndSeal(late, bytesOf("late"));
    await other.disconnect();
    const [buffer] = await waiting;
    expect(new TextDecoder().decode(buffer ?? undefined)).toBe("late");
    await client.release(late);
  });
});

describe("raw frames", () => {
  const id = (n: number) => {
    const bytes = new Uint8Array(20);
    bytes[0] = n;
    bytes[1] = 0xba;
    bytes[19] = Math.floor(Math.random() * 256);
    return bytes;
  };

  test("sub-requests are served in order; one error is one sub-reply; a waiting get answers on its own", async () => {
    const raw = await Raw.open(fx.store.socketPath);
    const [x, y] = [id(1), id(2)];
    const empty = new Uint8Array(0);
    raw.write(
      batchOf(
        (out) => CreateAndSealCodec.encodeRequest(out, 10, { id: x, metadata: empty, data: bytesOf("x") }),
        (out) => CreateAndSealCodec.encodeRequest(out, 11, { id: x, metadata: empty, data: bytesOf("x") }),
        (out) => GetCodec.encodeRequestOne(out, 12, y, -1),
        (out) => ContainsCodec.encodeRequest(out, 13, x),
      ),
    );
    await waitUntil("the batch reply", () => raw.frames.length > 0);
    const [reply] = raw.frames;
    expect(reply?.type).toBe(MessageType.Batch);
    expect(reply?.requestId).toBe(0);
    expect(reply?.sub.map((f) => [f.type, f.flags, f.requestId])).toEqual([
      [MessageType.CreateAndSeal, FLAG_REPLY, 10],
      [MessageType.CreateAndSeal, FLAG_REPLY | FLAG_ERROR, 11],
      [MessageType.Contains, FLAG_REPLY, 13],
    ]);
    expect(ErrorReplyCodec.decode(new ByteReader(reply?.sub[1]?.body ?? empty))).toBeInstanceOf(
      ObjectExistsError,
    );
    expect(ContainsCodec.decodeReply(new ByteReader(reply?.sub[2]?.body ?? empty))).toBe(true);

    await fx.client.createAndSeal(new ObjectID(y), bytesOf("y"));
    await waitUntil("the get's own reply", () => raw.frames.length > 1);
    expect(raw.frames[1]?.type).toBe(MessageType.Get);
    expect(raw.frames[1]?.requestId).toBe(12);
    expect(GetCodec.decodeReplyOne(new ByteReader(raw.frames[1]?.body ?? empty))?.dataSize).toBe(1);
    raw.close();
    await fx.client.delete([new ObjectID(x), new ObjectID(y)]);
  });

  const seal = (out: ByteWriter) => ContainsCodec.encodeRequest(out, 7, id(9));
  const malformed: [string, () => ByteWriter][] = [
    [
      "a count over the limit",
      () => {
        const out = batchOf(seal, seal);
        out.view.setUint32(12, MAX_BATCH_FRAMES + 1, true);
        return out;
      },
    ],
    [
      "a nested Batch",
      () => {
        const inner = batchOf(seal, seal);
        const out = new ByteWriter();
        BatchCodec.encodeRequest(out, 0, [
          { type: MessageType.Batch, flags: 0, requestId: 0, body: inner.bytes.slice(12, inner.length) },
        ]);
        return out;
      },
    ],
    [
      "a truncated sub-frame",
      () => {
        const out = batchOf(seal, seal);
        out.length -= 3;
        out.view.setUint32(0, out.length - 12, true);
        return out;
      },
    ],
    [
      "a Hello inside",
      () =>
        batchOf(seal, (out) =>
          HelloCodec.encodeRequest(out, 8, { version: PROTOCOL_VERSION, pid: process.pid }),
        ),
    ],
    [
      "a request id on the Batch itself",
      () => {
        const out = batchOf(seal, seal);
        out.view.setUint32(8, 5, true);
        return out;
      },
    ],
  ];

  test.each(malformed)(
    "%s: a ProtocolError closes only that connection, and serves none of it",
    async (_name, make) => {
      const raw = await Raw.open(fx.store.socketPath);
      raw.write(make());
      await waitUntil("the store closes the connection", () => raw.closed);
      expect(raw.frames.map((f) => [f.type, f.flags & FLAG_ERROR, f.requestId])).toEqual([
        [0, FLAG_ERROR, 0],
      ]);
      // Everyone else is served as before.
      const other = ObjectID.fromRandom();
      await fx.client.createAndSeal(other, bytesOf("fine"));
      expect(await fx.client.contains(other)).toBe(true);
      await fx.client.delete([other]);
    },
  );
});
