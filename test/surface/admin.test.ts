// The admin plane: /readyz turning 503, WatchEvents and /v1/feed readers that fall too far behind, and a
// read-only plane's dashboard page and feed.
import { afterEach, expect, test } from "bun:test";
import { unlinkSync } from "node:fs";
import { connect, ObjectID } from "../../src/client/index.ts";
import { ADMIN_CLI, adminHttp, MiB, spawnChild, startStore, stopAll, waitUntil } from "./helpers.ts";

afterEach(stopAll);

test("/readyz is 503 once the socket file is gone; /healthz stays 200", async () => {
  const store = await startStore({ admin: "http" });
  expect(await adminHttp(store, "/readyz")).toMatchObject({ status: 200, text: "ready\n" });
  unlinkSync(store.socketPath);
  expect(await adminHttp(store, "/readyz")).toMatchObject({ status: 503, text: "not ready\n" });
  expect(await adminHttp(store, "/healthz")).toMatchObject({ status: 200, text: "ok\n" });
  expect(await store.stop()).toBe(0);
});

/** Store events made by one client: `objects` createAndSeal + delete cycles, three events each. */
async function flood(socketPath: string, objects: number): Promise<number> {
  const client = await connect(socketPath);
  const batch = 1000;
  for (let made = 0; made < objects; made += batch) {
    const ids = Array.from({ length: batch }, () => ObjectID.fromRandom());
    await Promise.all(ids.map((id) => client.createAndSeal(id, new Uint8Array(1))));
    expect(await client.delete(ids)).toBe(batch);
  }
  await client.disconnect();
  // created, sealed, deleted per object; connected and disconnected once.
  return 3 * objects + 2;
}

interface SseEvent {
  event: string;
  data: string;
}

function parseSse(text: string): SseEvent[] {
  return text
    .split("\n\n")
    .filter((block) => block.trim() !== "")
    .map((block) => {
      const lines = block.split("\n");
      const field = (name: string) =>
        lines
          .filter((l) => l.startsWith(`${name}: `))
          .map((l) => l.slice(name.length + 2))
          .join("\n");
      return { event: field("event"), data: field("data") };
    });
}

test("a WatchEvents stream and a /v1/feed reader that fall 100 000 events behind are ended, saying so", async () => {
  const store = await startStore({ admin: "both", memory: String(16 * MiB) });
  // Two readers that stop reading: plasma-admin watch and curl on the feed, each stopped with SIGSTOP
  // once it has shown that it is connected.
  const watch = spawnChild([
    "bun",
    ADMIN_CLI,
    "--addr",
    store.grpc as string,
    "--socket",
    store.socketPath,
    "--json",
    "watch",
  ]);
  const feed = spawnChild([
    "curl",
    "-sN",
    "-H",
    `authorization: Bearer ${store.token}`,
    `http://${store.http}/v1/feed`,
  ]);
  await feed.waitForStdout(/event: tick/);
  // The watcher shows a connect once it is registered: connect until it does.
  await waitUntil("plasma-admin watch shows a client connecting", async () => {
    await (await connect(store.socketPath)).disconnect();
    return watch.stdout().includes("EVENT_KIND_CLIENT_CONNECTED");
  });
  process.kill(watch.pid, "SIGSTOP");
  process.kill(feed.pid, "SIGSTOP");

  const events = await flood(store.socketPath, 80_000);
  process.kill(watch.pid, "SIGCONT");
  process.kill(feed.pid, "SIGCONT");

  expect(await watch.proc.exited).toBe(1);
  expect(watch.stderr()).toContain("plasma-admin: RESOURCE_EXHAUSTED");
  expect(watch.stderr()).toContain("fell 100000 events behind");
  const watched = watch.stdout().trim().split("\n").length;
  expect(watched).toBeLessThan(events);

  expect(await feed.proc.exited).toBe(0);
  const received = parseSse(feed.stdout());
  const last = received.at(-1) as SseEvent;
  expect(last.event).toBe("overflow");
  expect(JSON.parse(last.data)).toMatchObject({ code: "RESOURCE_EXHAUSTED" });
  expect((JSON.parse(last.data) as { message: string }).message).toContain("fell 100000 events behind");
  expect(received.filter((e) => e.event === "store").length).toBeLessThan(events);
  // The store itself went on serving.
  const client = await connect(store.socketPath);
  expect(await client.get(await client.put("after the overflow"))).toBe("after the overflow");
  await client.disconnect();
  // 80 000 objects, 240 000 events through two readers: longer than package.json's 120 s on a busy machine
}, 180_000);

/** Reads SSE events from a response until `until` holds for the events so far. */
async function readFeed(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  until: (events: SseEvent[]) => boolean,
): Promise<SseEvent[]> {
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    const complete = text.slice(0, text.lastIndexOf("\n\n") + 2);
    const events = parseSse(complete);
    if (until(events)) return events;
    const chunk = await reader.read();
    if (chunk.done) throw new Error(`the feed ended early:\n${text}`);
    text += decoder.decode(chunk.value, { stream: true });
  }
}

test("a read-only admin plane serves the dashboard and its live feed, and refuses the dashboard's actions", async () => {
  const store = await startStore({ admin: "http", args: ["--admin-read-only"] });
  const page = await fetch(`http://${store.http}/`);
  expect(page.status).toBe(200);
  expect(page.headers.get("content-type")).toContain("text/html");
  expect(await page.text()).toContain("<html");
  // What the page reads to hide its actions.
  const info = (await adminHttp(store, "/v1/info")).body as { admin: { readOnly: boolean } };
  expect(info.admin.readOnly).toBe(true);

  const controller = new AbortController();
  const response = await fetch(`http://${store.http}/v1/feed`, {
    signal: controller.signal,
    headers: { authorization: `Bearer ${store.token}` },
  });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/event-stream");
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const first = await readFeed(reader, (events) => events.length > 0);
  expect(first[0]?.event).toBe("tick");
  expect(JSON.parse(first[0]?.data ?? "{}")).toMatchObject({
    stats: { capacityBytes: 16 * MiB },
    evictionPolicy: "lru",
  });

  const client = await connect(store.socketPath);
  const id = ObjectID.fromRandom();
  await client.createAndSeal(id, new Uint8Array(10));
  const refused = await adminHttp(store, "/v1/evict", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: '{"bytes": 10}',
  });
  expect(refused.status).toBe(403);
  const sealedEvent = (events: SseEvent[]) =>
    events.some((e) => e.event === "store" && e.data.includes("EVENT_KIND_OBJECT_SEALED"));
  const all = await readFeed(reader, sealedEvent);
  const kinds = all
    .filter((e) => e.event === "store")
    .map((e) => JSON.parse(e.data) as { kind: string; object: { id: string } | null })
    .filter((e) => e.object?.id === id.hex())
    .map((e) => e.kind);
  expect(kinds).toEqual(["EVENT_KIND_OBJECT_CREATED", "EVENT_KIND_OBJECT_SEALED"]);
  controller.abort();
  expect(await client.contains(id)).toBe(true);
  await client.disconnect();
});
