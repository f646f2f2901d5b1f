// Walkthrough §10 "Using Plasma with huge pages":
//
//   plasma_store -s /tmp/plasma -m 10000000000 -d /mnt/hugepages -h
//
// This example starts its own small store with huge pages (MFD_HUGETLB) as a separate process, like the
// command above, puts and gets an array through it, and stops it. It needs 2 MiB pages reserved: as root,
// `echo 64 > /proc/sys/vm/nr_hugepages`. (The store runs in its own process because a client's handshake
// waits synchronously for the store's welcome: a store in the same process could not send it.)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "bun-plasma";

const PLASMA_STORE = join(import.meta.dir, "../src/daemon/cli.ts");
const dir = mkdtempSync(join(tmpdir(), "plasma-huge-"));
const socketPath = join(dir, "plasma.sock");
const store = Bun.spawn(["bun", PLASMA_STORE, "-s", socketPath, "-m", String(64 * 1024 * 1024), "-h"], {
  stdout: "pipe",
  stderr: "pipe",
  env: { ...process.env, PLASMA_LOG_LEVEL: "info", PLASMA_ADMIN_GRPC: "off", PLASMA_ADMIN_HTTP: "off" },
});
try {
  // The store logs one JSON line "plasma_store started" (with its page size) once it accepts clients.
  const reader = store.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let output = "";
  let started: { pageSizeBytes: number } | undefined;
  while (started === undefined) {
    const { done, value } = await reader.read();
    if (done) break;
    output += value;
    const line = output.split("\n").find((l) => l.includes('"msg":"plasma_store started"'));
    if (line !== undefined) started = JSON.parse(line);
  }
  // Keep reading what the store logs, so it never blocks on a full pipe.
  void (async () => {
    while (!(await reader.read()).done);
  })();
  if (started === undefined) {
    const why = (await new Response(store.stderr).text()).trim().split("\n")[0];
    console.log(`huge pages are not available here: ${why}`);
  } else {
    const client = await connect(socketPath);
    const id = await client.put(Float64Array.from({ length: 1024 }, (_, i) => i));
    const back = (await client.get(id)) as Float64Array;
    console.log(
      `huge-page store: capacity ${client.capacityBytes} bytes, page size ${started.pageSizeBytes} bytes`,
    );
    console.log(
      `put/get through huge pages: ${back.length} elements, sum ${back.reduce((a, b) => a + b, 0)}`,
    );
    await client.disconnect();
  }
} finally {
  store.kill("SIGTERM");
  await store.exited;
  rmSync(dir, { recursive: true, force: true });
}
