/**
 * The far end of the cluster benches' raw TCP baseline: a `bench/workers/transfer-host.ts` process serving
 * one object of SIZE_BYTES over a raw TCP stream and over the TransferServer, and the receiving side of
 * the raw stream.
 */
import { join } from "node:path";
import { ObjectID } from "../../src/protocol/object-id.ts";

export interface TransferHost {
  rawPort: number;
  transferPort: number;
  id: ObjectID;
  stop(): Promise<void>;
}

/** Starts the host process for an object of `sizeBytes` and waits for its ports. */
export async function startTransferHost(sizeBytes: number): Promise<TransferHost> {
  const script = join(import.meta.dir, "..", "workers", "transfer-host.ts");
  const proc = Bun.spawn([process.execPath, script, String(sizeBytes)], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`transfer host exited: ${text}`);
    text += new TextDecoder().decode(value);
  }
  const line = JSON.parse(text) as { rawPort: number; transferPort: number; id: string };
  return {
    rawPort: line.rawPort,
    transferPort: line.transferPort,
    id: ObjectID.fromHex(line.id),
    async stop() {
      proc.kill();
      await proc.exited;
    },
  };
}

/** Seconds to receive target.length bytes over a raw connection, copying each read into `target` at its offset. */
export function rawReceive(port: number, target: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let received = 0;
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data(socket, data) {
          target.set(data, received);
          received += data.length;
          if (received === target.length) {
            resolve((performance.now() - start) / 1000);
            socket.terminate();
          }
        },
        close: () => {
          if (received < target.length) reject(new Error(`raw stream closed at ${received} bytes`));
        },
      },
    }).catch(reject);
  });
}
