import { describe, expect, test } from "bun:test";
import { ObjectID } from "../../src/client/index.ts";
import { pattern, startAdminStore } from "../admin/helpers.ts";
import { useAdminStore } from "../helpers/store-fixture.ts";

// The HTTP endpoints behind the dashboard, through fetch against a real store: the page, the SSE feed,
// the data download and the three actions with their token, read-only and body rules.

const TOKEN = "feed-s3cret";
const auth = { authorization: `Bearer ${TOKEN}` };
const jsonAuth = { ...auth, "content-type": "application/json" };

interface SseEvent {
  event: string;
  id: string;
  data: string;
}

/** Reads server-sent events from a fetch response until `until` says stop. */
async function readEvents(response: Response, until: (events: SseEvent[]) => boolean): Promise<SseEvent[]> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const events: SseEvent[] = [];
  let buffer = "";
  while (!until(events)) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf("\n\n");
      const e: SseEvent = { event: "message", id: "", data: "" };
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) e.event = line.slice(7);
        else if (line.startsWith("id: ")) e.id = line.slice(4);
        else if (line.startsWith("data: ")) e.data += line.slice(6);
      }
      events.push(e);
    }
  }
  await reader.cancel();
  return events;
}

describe("dashboard HTTP API", () => {
  const s = useAdminStore({ memory: "16MiB", args: ["--admin-token", TOKEN], token: TOKEN });
  const url = (path: string) => `http://${s.http}${path}`;

  test("GET / is the self-contained page: inline script and style, no external URL, no store data", async () => {
    const response = await fetch(url("/"));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(response.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await response.text();
    expect(html).toContain("<title>plasma_store dashboard</title>");
    expect(html).not.toContain("/*__SCRIPT__*/");
    expect(html).not.toContain("/*__STYLE__*/");
    expect(html).not.toMatch(/(src|href)="https?:/);
    expect(html).not.toContain(s.store.socketPath);
    // The bundle is in: a function of app.ts that survives minification by its strings.
    expect(html).toContain("/v1/feed");
  });

  test("/v1/feed: a tick first, then every store event in order with its sequence, like WatchEvents", async () => {
    expect((await fetch(url("/v1/feed"))).status).toBe(401);
    const response = await fetch(url("/v1/feed"), { headers: auth });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    const watch = s.admin.watch();
    await watch.ready;
    const id = ObjectID.fromRandom();
    const reading = readEvents(response, (events) => events.filter((e) => e.event === "store").length >= 2);
    // The first tick is sent on connect: creating after the response headers means the feed is registered.
    await s.client.createAndSeal(id, pattern(3000, 1), new TextEncoder().encode("m"));
    const events = await reading;
    expect(events[0]?.event).toBe("tick");
    const tick = JSON.parse(events[0]?.data ?? "{}") as {
      stats: { capacityBytes: number };
      clients: { pid: number; bytesHeld: number }[];
      evictionPolicy: string;
    };
    expect(tick.stats.capacityBytes).toBe(16 * 1024 * 1024);
    expect(tick.evictionPolicy).toBe("lru");
    expect(tick.clients.map((c) => c.pid)).toEqual([process.pid]);
    const store = events.filter((e) => e.event === "store").map((e) => ({ id: e.id, ...JSON.parse(e.data) }));
    expect(store.map((e) => e.kind)).toEqual(["EVENT_KIND_OBJECT_CREATED", "EVENT_KIND_OBJECT_SEALED"]);
    expect(store.map((e) => e.object.id)).toEqual([id.hex(), id.hex()]);
    expect(store[0].object.dataSizeBytes).toBe(3000);
    // Same events, same sequence numbers as the gRPC stream.
    const viaGrpc = [];
    for await (const event of watch.events) {
      viaGrpc.push(event);
      if (viaGrpc.length === 2) break;
    }
    watch.cancel();
    expect(viaGrpc.map((e) => [String(e.sequence), e.kind])).toEqual(store.map((e) => [e.id, e.kind]));
  });

  test("/v1/objects/ID/data: the bytes with length and file name; 409 unsealed, 404 missing, 401 without token", async () => {
    const id = ObjectID.fromRandom();
    const data = pattern(3 * 1024 * 1024 + 5, 2);
    await s.client.createAndSeal(id, data);
    expect((await fetch(url(`/v1/objects/${id.hex()}/data`))).status).toBe(401);
    const response = await fetch(url(`/v1/objects/${id.hex()}/data`), { headers: auth });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-data-size-bytes")).toBe(String(data.length));
    expect(response.headers.get("content-disposition")).toBe(`attachment; filename="${id.hex()}.bin"`);
    expect(Buffer.compare(new Uint8Array(await response.arrayBuffer()), data)).toBe(0);
    // The admin plane's hold is given back once the body is sent: only this test's client is left.
    expect((await s.admin.clients()).map((c) => c.pid)).toEqual([process.pid]);
    expect((await s.admin.getObject(id.hex())).refCount).toBe(0);

    const unsealed = ObjectID.fromRandom();
    await s.client.create(unsealed, 100);
    const conflict = await fetch(url(`/v1/objects/${unsealed.hex()}/data`), { headers: auth });
    expect(conflict.status).toBe(409);
    expect(((await conflict.json()) as { error: { code: string } }).error.code).toBe("FAILED_PRECONDITION");
    expect((await fetch(url(`/v1/objects/${"0".repeat(40)}/data`), { headers: auth })).status).toBe(404);
    expect((await fetch(url("/v1/objects/xyz/data"), { headers: auth })).status).toBe(400);
  });

  test("actions: PUT /v1/policy, POST /v1/evict, DELETE /v1/objects/ID need the token and a JSON body", async () => {
    const body = JSON.stringify({ name: "fifo" });
    expect((await fetch(url("/v1/policy"), { method: "PUT", body })).status).toBe(401);
    expect(
      (await fetch(url("/v1/policy"), { method: "PUT", body, headers: { authorization: "Bearer wrong" } }))
        .status,
    ).toBe(401);
    // A cross-site form or text/plain POST cannot pass: JSON only.
    const plain = await fetch(url("/v1/policy"), {
      method: "PUT",
      body,
      headers: { ...auth, "content-type": "text/plain" },
    });
    expect(plain.status).toBe(400);
    expect((await s.admin.policy()).name).toBe("lru");
    const bad = await fetch(url("/v1/policy"), {
      method: "PUT",
      headers: jsonAuth,
      body: '{"name":"random"}',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain(
      "lru, fifo, lfu, none",
    );
    const set = await fetch(url("/v1/policy"), { method: "PUT", headers: jsonAuth, body });
    expect(set.status).toBe(200);
    expect(await set.json()).toMatchObject({ name: "fifo", previous: "lru" });
    expect((await s.admin.policy()).name).toBe("fifo");
    await s.store.waitForOutput(/"method":"PUT \/v1\/policy","from":"lru","to":"fifo"/);

    const victim = ObjectID.fromRandom();
    await s.client.createAndSeal(victim, pattern(10_000, 3));
    const evict = await fetch(url("/v1/evict"), { method: "POST", headers: jsonAuth, body: '{"bytes":1}' });
    expect(evict.status).toBe(200);
    const evicted = (await evict.json()) as { freedBytes: number; evicted: { id: string }[] };
    expect(evicted.freedBytes).toBeGreaterThan(0);
    expect(
      (await fetch(url("/v1/evict"), { method: "POST", headers: jsonAuth, body: '{"bytes":-1}' })).status,
    ).toBe(400);

    const doomed = ObjectID.fromRandom();
    await s.client.createAndSeal(doomed, pattern(100, 4));
    expect((await fetch(url(`/v1/objects/${doomed.hex()}`), { method: "DELETE" })).status).toBe(401);
    const deleted = await fetch(url(`/v1/objects/${doomed.hex()}`), { method: "DELETE", headers: auth });
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toEqual({ deleted: [doomed.hex()], pending: [], notFound: [] });
    expect(
      (await fetch(url(`/v1/objects/${doomed.hex()}`), { method: "DELETE", headers: auth })).status,
    ).toBe(404);
    // Other methods and paths stay closed.
    expect((await fetch(url("/v1/stats"), { method: "POST", headers: auth })).status).toBe(405);
    expect((await fetch(url("/v1/objects"), { method: "DELETE", headers: auth })).status).toBe(405);
  });
});

test("--admin-read-only: the HTTP actions are refused with 403 and change nothing", async () => {
  const s = await startAdminStore({ memory: "4MiB", args: ["--admin-read-only"] });
  try {
    const url = (path: string) => `http://${s.http}${path}`;
    // With the token the store generated: read-only refuses even a caller who has it.
    const json = s.headers({ "content-type": "application/json" });
    const policy = await fetch(url("/v1/policy"), { method: "PUT", headers: json, body: '{"name":"lfu"}' });
    expect(policy.status).toBe(403);
    expect(((await policy.json()) as { error: { code: string } }).error.code).toBe("PERMISSION_DENIED");
    expect(
      (await fetch(url("/v1/evict"), { method: "POST", headers: json, body: '{"bytes":1}' })).status,
    ).toBe(403);
    expect(
      (await fetch(url(`/v1/objects/${"a".repeat(40)}`), { method: "DELETE", headers: s.headers() })).status,
    ).toBe(403);
    expect((await s.admin.policy()).name).toBe("lru");
    // Reading stays open: the feed and the page.
    expect((await fetch(url("/"))).status).toBe(200);
  } finally {
    await s.stop();
  }
});
