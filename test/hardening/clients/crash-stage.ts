// A client process that reaches one stage of its life, prints "ready", and waits to be SIGKILLed.
// argv: socketPath stage [hex] [bytes]
//   creating <hex> <bytes>  holds the unsealed object <hex>
//   holding <hex>           holds references (two buffers) to the sealed object <hex>
//   getting <hex>           is blocked in a get of <hex> with no timeout
//   waiting-create <bytes>  is blocked in a create that waits for memory (waitMs -1)
//   subscribed              has a live subscription
//   midframe                raw socket: sent Hello and half of a Create frame

import { connect, ObjectID } from "../../../src/client/index.ts";
import { ByteWriter } from "../../../src/protocol/bytes.ts";
import { CreateCodec, HelloCodec } from "../../../src/protocol/codecs/index.ts";
import { PROTOCOL_VERSION } from "../../../src/protocol/limits.ts";

const [socketPath, stage, hex, bytes] = process.argv.slice(2);
const path = socketPath as string;

if (stage === "midframe") {
  let welcomed = false;
  const socket = await Bun.connect({
    unix: path,
    socket: {
      data() {
        welcomed = true;
      },
    },
  });
  while (!welcomed) await Bun.sleep(5);
  const out = new ByteWriter();
  HelloCodec.encodeRequest(out, 1, { version: PROTOCOL_VERSION, pid: process.pid });
  const helloEnd = out.length;
  CreateCodec.encodeRequest(out, 2, {
    id: ObjectID.fromRandom().bytes,
    dataSize: 100,
    metadata: new Uint8Array(50),
    waitMs: 0,
  });
  const half = helloEnd + Math.floor((out.length - helloEnd) / 2);
  socket.write(out.bytes.subarray(0, half));
  socket.flush();
} else {
  const client = await connect(path);
  const keep: unknown[] = [];
  if (stage === "creating") {
    keep.push(await client.create(ObjectID.fromHex(hex as string), Number(bytes)));
  } else if (stage === "holding") {
    const id = ObjectID.fromHex(hex as string);
    keep.push(await client.getBuffers([id]), await client.getBuffers([id]));
  } else if (stage === "getting") {
    keep.push(client.getBuffers([ObjectID.fromHex(hex as string)]));
  } else if (stage === "waiting-create") {
    keep.push(client.create(ObjectID.fromRandom(), Number(hex), undefined, { waitMs: -1 }));
  } else if (stage === "subscribed") {
    keep.push(await client.subscribe());
  } else {
    throw new Error(`unknown stage ${stage}`);
  }
  (globalThis as { keep?: unknown }).keep = keep;
}
console.log("ready");
await Bun.sleep(600_000);
