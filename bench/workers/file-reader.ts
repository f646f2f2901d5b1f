/**
 * The reading side of the /dev/shm baseline, in its own process. Commands on stdin, one per line:
 *   read PATH MODE OPS   MODE is mmap (Bun.mmap) or arrayBuffer (Bun.file().arrayBuffer()); prints the
 *                        median µs of OPS reads (each read touches the first and last byte).
 */
import { median, nowNs } from "../lib/measure.ts";

console.log("ready");
const decoder = new TextDecoder();
let buffered = "";
for await (const chunk of Bun.stdin.stream()) {
  buffered += decoder.decode(chunk, { stream: true });
  for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
    const [cmd, path, mode, opsText] = buffered.slice(0, nl).split(" ");
    buffered = buffered.slice(nl + 1);
    if (cmd !== "read" || path === undefined) continue;
    const ops = Number(opsText);
    const samples: number[] = [];
    let sink = 0;
    for (let i = -1; i < ops; i++) {
      const start = nowNs();
      const bytes = mode === "mmap" ? Bun.mmap(path) : new Uint8Array(await Bun.file(path).arrayBuffer());
      sink += (bytes[0] ?? 0) + (bytes[bytes.length - 1] ?? 0);
      if (i >= 0) samples.push((nowNs() - start) / 1000);
    }
    console.log(`${median(samples)} ${sink}`);
  }
}
