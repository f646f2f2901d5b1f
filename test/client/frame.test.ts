import { expect, test } from "bun:test";
import { ByteWriter } from "../../src/protocol/bytes.ts";
import { ProtocolError } from "../../src/protocol/errors.ts";
import { beginFrame, endFrame, FrameReader } from "../../src/protocol/frame.ts";
import { MAX_FRAME_BODY_BYTES } from "../../src/protocol/limits.ts";

function frames(count: number): Uint8Array {
  const out = new ByteWriter(16);
  for (let i = 0; i < count; i++) {
    const at = beginFrame(out, 7, 0, i + 1);
    for (let j = 0; j < i; j++) out.u8(j & 0xff);
    endFrame(out, at);
  }
  return out.bytes.slice(0, out.length);
}

test("FrameReader reassembles frames split at every byte boundary", () => {
  const bytes = frames(20);
  for (const chunkSize of [1, 2, 3, 7, 12, 13, 50, bytes.length]) {
    const seen: [number, number, number][] = [];
    const reader = new FrameReader((type, _flags, requestId, body) => {
      seen.push([type, requestId, body.length]);
      expect([...body]).toEqual(Array.from({ length: body.length }, (_, j) => j & 0xff));
    });
    for (let i = 0; i < bytes.length; i += chunkSize) reader.push(bytes.subarray(i, i + chunkSize));
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => [7, i + 1, i]));
    expect(reader.bufferedBytes).toBe(0);
  }
});

test("FrameReader rejects oversized bodies and unknown flags before buffering them", () => {
  const header = new Uint8Array(12);
  const view = new DataView(header.buffer);
  view.setUint32(0, MAX_FRAME_BODY_BYTES + 1, true);
  expect(() => new FrameReader(() => {}).push(header)).toThrow(ProtocolError);
  view.setUint32(0, 0xffffffff, true);
  expect(() => new FrameReader(() => {}).push(header)).toThrow(ProtocolError);
  view.setUint32(0, 0, true);
  view.setUint16(6, 0x80, true);
  expect(() => new FrameReader(() => {}).push(header)).toThrow(/unknown flags/);
});
