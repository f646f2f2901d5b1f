import { TransferProtocolError } from "./errors.ts";
import { FRAME_HEADER_BYTES, MAX_CONTROL_PAYLOAD_BYTES } from "./wire.ts";

/**
 * Reassembles the small frames a puller sends (HELLO, PULL, ACK). Any frame longer than
 * MAX_CONTROL_PAYLOAD_BYTES is a protocol error, so a caller can make the server buffer at most that.
 * The payload handed to onFrame is valid only during the call.
 */
export class ControlFrameReader {
  readonly #onFrame: (type: number, payload: Uint8Array) => void;
  #pending = new Uint8Array(0);

  constructor(onFrame: (type: number, payload: Uint8Array) => void) {
    this.#onFrame = onFrame;
  }

  push(data: Uint8Array): void {
    let bytes = data;
    if (this.#pending.length > 0) {
      bytes = new Uint8Array(this.#pending.length + data.length);
      bytes.set(this.#pending);
      bytes.set(data, this.#pending.length);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    let at = 0;
    while (bytes.length - at >= FRAME_HEADER_BYTES) {
      const payloadBytes = view.getUint32(at, true);
      if (payloadBytes > MAX_CONTROL_PAYLOAD_BYTES) {
        throw new TransferProtocolError(
          `A frame of ${payloadBytes} bytes is over the limit of ${MAX_CONTROL_PAYLOAD_BYTES} for a puller.`,
        );
      }
      const end = at + FRAME_HEADER_BYTES + payloadBytes;
      if (end > bytes.length) break;
      this.#onFrame(view.getUint8(at + 4), bytes.subarray(at + FRAME_HEADER_BYTES, end));
      at = end;
    }
    this.#pending = bytes.slice(at);
  }
}
