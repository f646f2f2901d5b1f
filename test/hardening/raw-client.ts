/** A client that speaks raw frames, as an attacker would: no PlasmaClient, no arena mapping. */
import type { Socket } from "bun";
import { ByteWriter } from "../../src/protocol/bytes.ts";
import { CreateAndSealCodec, HelloCodec, MessageType } from "../../src/protocol/codecs/index.ts";
import { FrameReader } from "../../src/protocol/frame.ts";
import { PROTOCOL_VERSION } from "../../src/protocol/limits.ts";
import { waitUntil } from "../helpers/wait.ts";

/** What the raw client keeps of each frame it receives: its header and the u32 its body starts with. */
export interface ReceivedFrame {
  type: number;
  flags: number;
  requestId: number;
  bodyBytes: number;
  /** The body's first u32 (the entry count of List and Notification frames), or -1 if it is shorter. */
  firstU32: number;
}

export class RawClient {
  /** Every frame received, unless the client only counts them (see open). */
  readonly frames: ReceivedFrame[] = [];
  /** Frames received in answer to a request (not request id 0), and error frames among all. */
  frameCount = 0;
  errorCount = 0;
  #record = true;
  #closed = false;
  #wake: (() => void) | null = null;
  readonly #reader = new FrameReader((type, flags, requestId, body) => {
    if (requestId !== 0) this.frameCount++;
    if ((flags & 2) !== 0) this.errorCount++;
    if (!this.#record) return;
    const firstU32 = body.length >= 4 ? new DataView(body.buffer, body.byteOffset, 4).getUint32(0, true) : -1;
    this.frames.push({ type, flags, requestId, bodyBytes: body.length, firstU32 });
  });
  #socket: Socket<undefined> | null = null;

  /**
   * Connects and says Hello (request id 1); resolves once the store answered it. With `record` false the
   * client only counts the frames after the Hello reply (frameCount, errorCount).
   */
  static async open(socketPath: string, record = true): Promise<RawClient> {
    const client = new RawClient();
    client.#socket = await Bun.connect<undefined>({
      unix: socketPath,
      socket: {
        data: (_s, data) => client.#reader.push(data),
        drain: () => client.#wake?.(),
        close: () => {
          client.#closed = true;
          client.#wake?.();
        },
        error: () => {
          client.#closed = true;
        },
      },
    });
    const out = new ByteWriter();
    HelloCodec.encodeRequest(out, 1, { version: PROTOCOL_VERSION, pid: process.pid });
    await client.send(out);
    await client.waitForReply(MessageType.Hello, 1);
    client.#record = record;
    client.frameCount = 0;
    return client;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Writes everything in `out` (waiting for the socket to drain as needed). */
  async send(out: ByteWriter): Promise<void> {
    let rest = out.bytes.subarray(0, out.length);
    while (rest.length > 0) {
      if (this.#closed) throw new Error("the store closed the raw connection");
      const written = this.#socket?.write(rest) ?? -1;
      if (written < 0) throw new Error("write to the store failed");
      rest = rest.subarray(written);
      if (rest.length > 0) {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
      }
    }
  }

  /** The frames received for this request id, in order. */
  framesOf(requestId: number): ReceivedFrame[] {
    return this.frames.filter((f) => f.requestId === requestId);
  }

  /** Waits for a frame of `type` and `requestId` whose flags have no FLAG_MORE (4) bit. */
  async waitForReply(type: number, requestId: number): Promise<void> {
    await waitUntil(`the reply to ${requestId}`, () => {
      if (this.#closed) throw new Error("the store closed the raw connection");
      return this.frames.some((f) => f.requestId === requestId && f.type === type && (f.flags & 4) === 0);
    });
  }

  close(): void {
    this.#socket?.end();
  }
}

/**
 * Fills the store with `count` empty sealed objects through pipelined CreateAndSeal frames (request ids
 * 2…count+1); resolves once every one is answered. Far cheaper than a million PlasmaClient calls.
 */
export async function fillWithEmptyObjects(socketPath: string, count: number): Promise<void> {
  const raw = await RawClient.open(socketPath, false);
  const batch = 50_000;
  const empty = new Uint8Array(0);
  const id = new Uint8Array(20);
  const ids = new DataView(id.buffer);
  ids.setUint32(16, Math.floor(Math.random() * 2 ** 32));
  for (let start = 0; start < count; start += batch) {
    const out = new ByteWriter(64 * batch);
    for (let i = start; i < Math.min(start + batch, count); i++) {
      ids.setUint32(0, i);
      CreateAndSealCodec.encodeRequest(out, i + 2, { id, metadata: empty, data: empty });
    }
    await raw.send(out);
  }
  await waitUntil(
    `${count} creates answered`,
    () => {
      if (raw.closed) throw new Error("the store closed the filling connection");
      return raw.frameCount >= count;
    },
    110_000,
  );
  const errors = raw.errorCount;
  raw.close();
  if (errors > 0) throw new Error(`${errors} of ${count} creates failed`);
}
