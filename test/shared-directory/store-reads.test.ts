/** Directory reads in a real store: zero store CPU per get, and a hostile client changes nothing. */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { connect, ObjectID } from "../../src/client/index.ts";
import { useStore } from "../helpers/store-fixture.ts";
import { waitUntil } from "../helpers/wait.ts";
import { byteOf, contentOf, objectIdOf, sizeOf } from "./store-clients/common.ts";

const fx = useStore({ memory: "4MiB" });

/** utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

test("100k gets served from the directory cost the store (almost) no CPU", async () => {
  const ids = Array.from({ length: 500 }, () => ObjectID.fromRandom());
  for (const id of ids) await fx.client.createAndSeal(id, new Uint8Array(1024).fill(3));
  const before = cpuTicks(fx.store.proc.pid);
  let bytes = 0;
  for (let i = 0; i < 100_000; i++) {
    const id = ids[i % ids.length] as ObjectID;
    const [view] = await fx.client.getBuffers([id]);
    bytes += view?.[0] ?? 0;
    await fx.client.release(id);
    // Let releases go out (unpin), so the next round finds every object through the directory again.
    if (i % 256 === 255) await new Promise((resolve) => setImmediate(resolve));
  }
  const spent = cpuTicks(fx.store.proc.pid) - before;
  expect(bytes).toBe(300_000);
  // Through the socket each get costs the store about 5 µs: 100k of them would be 50+ ticks.
  expect(spent).toBeLessThan(10);
  // They were seen all the same: the access rings count them as hits (approximately, at most all).
  const info = await fx.client.list();
  expect(info.filter((o) => ids.some((id) => id.equals(o.id))).every((o) => o.refCount === 0)).toBe(true);
});

test("a hostile client scribbling over its pin table cannot write the directory or break the store", async () => {
  const hostile = Bun.spawn(
    ["bun", join(import.meta.dir, "store-clients", "hostile.ts"), fx.store.socketPath],
    {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "inherit",
    },
  );
  const reader = hostile.stdout.getReader();
  const { value } = await reader.read();
  const refused = JSON.parse(new TextDecoder().decode(value).trim().split("\n")[0] as string);
  expect(refused).toEqual({ writableMap: "EPERM", reopenedWritable: "EPERM" });
  const other = await connect(fx.store.socketPath);
  try {
    for (let round = 0; round < 600; round++) {
      const n = round % 300;
      const id = objectIdOf(n);
      await fx.client.createAndSeal(id, contentOf(n)).catch(() => {});
      const [data] = await other.getBuffers([id], { timeoutMs: 0 });
      if (data !== null && data !== undefined) {
        expect(data.length).toBe(sizeOf(n));
        for (let k = 0; k < data.length; k += 97) expect(data[k]).toBe(byteOf(n, k));
        await other.release(id);
      }
      await fx.client.delete(id);
      if (round % 50 === 0) await fx.client.evict(64 * 1024);
    }
    expect(fx.store.proc.exitCode).toBeNull();
  } finally {
    hostile.kill("SIGKILL");
    await hostile.exited;
    await other.disconnect();
  }
  // Its pins died with it: every delete that waited for them is done, and the accounting is exact.
  await waitUntil("the objects it pinned are gone", async () => {
    const objects = await fx.client.list();
    return objects.filter((o) => o.id.bytes[0] === 0x5a).length === 0;
  });
  const info = await fx.client.storeInfo();
  const listed = await fx.client.list();
  expect(info.objectCount).toBe(listed.length);
  expect(listed.every((o) => o.refCount === 0)).toBe(true);
  expect(fx.store.output()).not.toMatch(/internal error|invariant/i);
});

test("the same id twice in one get through the directory: one holding, two references", async () => {
  const id = ObjectID.fromRandom();
  await fx.client.createAndSeal(id, new Uint8Array(64).fill(8));
  const views = await fx.client.getBuffers([id, id]);
  expect(views.map((v) => v?.[0])).toEqual([8, 8]);
  expect(fx.client.heldObjectCount).toBe(1);
  const refCount = async () => (await fx.client.list()).find((o) => o.id.equals(id))?.refCount;
  expect(await refCount()).toBe(1);
  await fx.client.release(id);
  await fx.client.release(id);
  expect(await refCount()).toBe(0);
  expect(await fx.client.delete(id)).toBe(1);
});
