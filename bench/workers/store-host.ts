/**
 * Runs a plasma_store in this process so its own memory can be read: prints "ready SOCKET", then
 * answers each "measure" line on stdin with `rssAnonBytes heapBytes objectCount` after a full GC.
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { startStore } from "../../src/daemon/index.ts";
import { silentLogger } from "../../src/log.ts";
import { tempDir } from "../lib/env.ts";

const capacityBytes = Number(process.argv[2]);
const dir = tempDir();
const store = await startStore({ capacityBytes, socketPath: join(dir, "plasma.sock"), logger: silentLogger });
console.log(`ready ${store.socketPath}`);

function rssAnonBytes(): number {
  const match = /^RssAnon:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"));
  return match === null ? Number.NaN : Number(match[1]) * 1024;
}

const decoder = new TextDecoder();
let text = "";
for await (const chunk of Bun.stdin.stream()) {
  text += decoder.decode(chunk, { stream: true });
  for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n")) {
    const line = text.slice(0, nl);
    text = text.slice(nl + 1);
    if (line !== "measure") continue;
    Bun.gc(true);
    await Bun.sleep(10);
    Bun.gc(true);
    console.log(`${rssAnonBytes()} ${process.memoryUsage().heapUsed} ${store.core.stats().objectCount}`);
  }
}
await store.stop();
rmSync(dir, { recursive: true, force: true });
