import { beforeAll, describe, expect, test } from "bun:test";
import { ObjectID } from "../../src/client/index.ts";
import { useAdminStore } from "../helpers/store-fixture.ts";
import { pattern } from "./helpers.ts";

/** The value of an unlabelled (or exactly labelled) sample in Prometheus text. */
function sample(metrics: string, name: string): number {
  const line = metrics.split("\n").find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`no sample ${name} in:\n${metrics}`);
  return Number(line.slice(name.length + 1));
}

describe("admin HTTP: metrics, health, readiness and JSON", () => {
  const s = useAdminStore({ memory: "16MiB" });
  const ids = [ObjectID.fromRandom(), ObjectID.fromRandom(), ObjectID.fromRandom()];
  const hx = ids.map((id) => id.hex()) as [string, string, string];
  const url = (path: string) => `http://${s.http}${path}`;
  /** A request with the store's admin token (it generated one: no --admin-token, no --admin-insecure). */
  const call = (path: string, init: RequestInit = {}) => fetch(url(path), { ...init, headers: s.headers() });

  beforeAll(async () => {
    // One object through create + seal, two through createAndSeal; two gets (one hit, one miss).
    const buffer = await s.client.create(ids[0] as ObjectID, 5000, new TextEncoder().encode("first"));
    buffer.set(pattern(5000, 1));
    await s.client.seal(ids[0] as ObjectID);
    await s.client.createAndSeal(ids[1] as ObjectID, pattern(20_000, 2), new TextEncoder().encode("second"));
    await s.client.createAndSeal(ids[2] as ObjectID, pattern(100, 3));
    await s.client.getBuffers([ids[1] as ObjectID], { timeoutMs: 0 });
    await s.client.getBuffers([ObjectID.fromRandom()], { timeoutMs: 0 });
  });

  test("/healthz and /readyz", async () => {
    const health = await fetch(url("/healthz"));
    expect(health.status).toBe(200);
    expect(await health.text()).toBe("ok\n");
    const ready = await fetch(url("/readyz"));
    expect(ready.status).toBe(200);
  });

  test("/metrics: Prometheus text with the store's counters, gauges and latency histograms", async () => {
    const response = await call("/metrics");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/plain");
    const m = await response.text();
    expect(sample(m, "plasma_capacity_bytes")).toBe(16 * 1024 * 1024);
    expect(sample(m, "plasma_creates_total")).toBe(3);
    expect(sample(m, "plasma_seals_total")).toBe(3);
    expect(sample(m, "plasma_get_hits_total")).toBe(1);
    expect(sample(m, "plasma_get_misses_total")).toBe(1);
    expect(sample(m, "plasma_connected_clients")).toBe(1);
    expect(sample(m, 'plasma_objects{state="sealed"}')).toBe(3);
    expect(sample(m, 'plasma_object_bytes{state="sealed"}')).toBe(5000 + 5 + 20_000 + 6 + 100);
    expect(sample(m, "plasma_used_bytes") + sample(m, "plasma_free_bytes")).toBe(16 * 1024 * 1024);
    expect(sample(m, 'plasma_eviction_policy{policy="lru"}')).toBe(1);
    expect(m).toContain("# TYPE plasma_evictions_total counter");
    expect(m).toContain("# TYPE plasma_create_duration_seconds histogram");
    // create + seal went through the Create and Seal requests. Of the two gets, the one of a sealed object
    // was answered from the shared-memory directory (no request: it counts as a hit, not as a Get's
    // latency); the miss went to the store as a Get.
    expect(sample(m, "plasma_create_duration_seconds_count")).toBeGreaterThanOrEqual(1);
    expect(sample(m, "plasma_seal_duration_seconds_count")).toBeGreaterThanOrEqual(1);
    expect(sample(m, "plasma_get_duration_seconds_count")).toBe(1);
  });

  test("/v1/info, /v1/stats, /v1/objects and /v1/objects/ID return the gRPC data as JSON", async () => {
    const info = (await (await call("/v1/info")).json()) as Record<string, unknown>;
    expect(info.pid).toBe(s.store.proc.pid);
    expect(info.socketPath).toBe(s.store.socketPath);
    expect(info).toEqual({
      ...(await s.admin.info()),
      uptimeSeconds: info.uptimeSeconds,
    } as unknown as Record<string, unknown>);

    const stats = (await (await call("/v1/stats")).json()) as {
      objectsSealed: number;
      counters: object;
    };
    expect(stats.objectsSealed).toBe(3);
    expect(stats.counters).toEqual((await s.admin.stats()).counters);

    const page = (await (
      await call("/v1/objects?order_by=size&desc=1&page_size=2&metadata_limit=3")
    ).json()) as {
      objects: { id: string; dataSizeBytes: number; metadata: string; metadataTruncated: boolean }[];
      nextPageToken: string;
      totalCount: number;
    };
    expect(page.totalCount).toBe(3);
    expect(page.objects.map((o) => o.id)).toEqual([hx[1], hx[0]]);
    expect(Buffer.from(page.objects[0]?.metadata ?? "", "base64").toString()).toBe("sec");
    expect(page.objects[0]?.metadataTruncated).toBe(true);
    const rest = (await (
      await call(`/v1/objects?order_by=size&desc=1&page_size=2&page_token=${page.nextPageToken}`)
    ).json()) as { objects: { id: string }[]; nextPageToken: string };
    expect(rest.objects.map((o) => o.id)).toEqual([hx[2]]);
    expect(rest.nextPageToken).toBe("");

    const small = (await (await call("/v1/objects?max_size=200&state=sealed")).json()) as {
      objects: { id: string }[];
    };
    expect(small.objects.map((o) => o.id)).toEqual([hx[2]]);

    const one = (await (await call(`/v1/objects/${hx[0]}`)).json()) as {
      metadata: string;
      dataSizeBytes: number;
    };
    expect(one.dataSizeBytes).toBe(5000);
    expect(Buffer.from(one.metadata, "base64").toString()).toBe("first");

    const missing = await call(`/v1/objects/${"0".repeat(40)}`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
    expect((await call("/v1/objects/nothex")).status).toBe(400);
    expect((await call("/v1/objects?state=melted")).status).toBe(400);
    expect((await call("/v1/nothing")).status).toBe(404);
    expect((await call("/v1/stats", { method: "POST" })).status).toBe(405);
  });
});
