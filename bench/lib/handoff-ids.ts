import { ObjectID } from "../../src/client/index.ts";

/** Deterministic ids both handoff processes compute: seed and index in the first 8 bytes. */
export function handoffId(seed: number, index: number): ObjectID {
  const bytes = new Uint8Array(20);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, seed);
  view.setUint32(4, index);
  bytes[19] = 0x48;
  return new ObjectID(bytes);
}
