import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";
import packageJson from "../../package.json" with { type: "json" };
import { AdminCallError } from "../../src/admin/client.ts";
import type { EventView } from "../../src/admin/service.ts";
import { connect, ObjectID, StoreFullError } from "../../src/client/index.ts";
import { useAdminStore } from "../helpers/store-fixture.ts";
import { waitUntil } from "../helpers/wait.ts";
import { FIXTURES, hexId, pattern } from "./helpers.ts";

async function expectCode(promise: Promise<unknown>, code: string): Promise<AdminCallError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AdminCallError);
    expect((error as AdminCallError).code).toBe(code);
    return error as AdminCallError;
  }
  throw new Error(`expected ${code}, the call succeeded`);
}

const enc = (text: string) => new TextEncoder().encode(text);

describe("admin gRPC against a store driven by real clients", () => {
  const s = useAdminStore({ memory: "8MiB" });

  test("GetStoreInfo describes the running store", async () => {
    const info = await s.admin.info();
    expect(info.version).toBe(packageJson.version);
    expect(info.pid).toBe(s.store.proc.pid);
    expect(info.socketPath).toBe(s.store.socketPath);
    expect(info.capacityBytes).toBe(8 * 1024 * 1024);
    expect(info.arenaBytes).toBeGreaterThanOrEqual(8 * 1024 * 1024);
    expect(info.backing).toBe("memfd");
    expect(info.backingPath).toBe("");
    expect(info.hugePages).toBe(false);
    expect(info.evictionPolicy).toBe("lru");
    expect(info.admin.grpc).toBe(s.grpc);
    expect(info.admin.http).toBe(s.http);
    // No --admin-token: the store made one up (the fixture reads it from the file next to the socket).
    expect(info.admin.tokenRequired).toBe(true);
    expect(info.startTimeMs).toBeLessThanOrEqual(Date.now());
    expect(info.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(info.hostname.length).toBeGreaterThan(0);
  });

  test("GetStats, ListObjects and GetObject report what the clients did", async () => {
    const before = await s.admin.stats();
    const ids = [1, 2, 3].map((n) => ObjectID.fromHex(hexId(0xa0 + n)));
    for (let i = 0; i < 3; i++) {
      await s.client.createAndSeal(
        ids[i] as ObjectID,
        pattern(1000 * (i + 1), i),
        enc(`meta-${i}-`.repeat(i + 1)),
      );
    }
    const hx = ids.map((id) => id.hex()) as [string, string, string];
    const unsealedId = ObjectID.fromHex(hexId(0xb1));
    const unsealed = await s.client.create(unsealedId, 4000, enc("u"));
    const held = await s.client.getBuffers([ids[0] as ObjectID], { timeoutMs: 0 });
    expect(held[0]?.length).toBe(1000);
    expect(await s.client.getBuffers([ObjectID.fromHex(hexId(0xdead))], { timeoutMs: 0 })).toEqual([null]);
    expect(await s.client.getBuffers([ObjectID.fromHex(hexId(0xbeef))], { timeoutMs: 30 })).toEqual([null]);
    await expect(s.client.create(ObjectID.fromHex(hexId(0xf00)), 9 * 1024 * 1024)).rejects.toBeInstanceOf(
      StoreFullError,
    );

    const stats = await s.admin.stats();
    expect(stats.objectsSealed).toBe(before.objectsSealed + 3);
    expect(stats.objectsCreated).toBe(before.objectsCreated + 1);
    const metaBytes = [0, 1, 2].reduce((sum, i) => sum + `meta-${i}-`.repeat(i + 1).length, 0);
    expect(stats.bytesSealed).toBe(before.bytesSealed + 6000 + metaBytes);
    expect(stats.bytesCreated).toBe(before.bytesCreated + 4001);
    expect(stats.usedBytes).toBeGreaterThanOrEqual(stats.bytesSealed + stats.bytesCreated);
    expect(stats.freeBytes).toBe(stats.capacityBytes - stats.usedBytes);
    expect(stats.largestFreeBlockBytes).toBeLessThanOrEqual(stats.freeBytes);
    expect(stats.connectedClients).toBe(1);
    const c = stats.counters;
    const b = before.counters;
    expect(c.creates - b.creates).toBe(4);
    expect(c.seals - b.seals).toBe(3);
    expect(c.getHits - b.getHits).toBe(1);
    expect(c.getMisses - b.getMisses).toBe(2);
    expect(c.getTimeouts - b.getTimeouts).toBe(1);
    expect(c.storeFullErrors - b.storeFullErrors).toBe(1);
    // The held object is not evictable; the two others are.
    expect(stats.evictableObjects).toBe(before.evictableObjects + 2);

    const all = await s.admin.listAllObjects({ idPrefix: "0".repeat(36) });
    expect(all.map((o) => o.id)).toEqual([...ids.map((id) => id.hex()), unsealedId.hex()]);
    const first = all[0];
    expect(first).toMatchObject({
      dataSizeBytes: 1000,
      metadataSizeBytes: 7,
      state: "OBJECT_STATE_SEALED",
      refCount: 1,
      deletePending: false,
    });
    expect(first?.metadata.length).toBe(0);
    expect(all[3]).toMatchObject({ state: "OBJECT_STATE_CREATED", refCount: 1, constructDurationMs: -1 });
    expect(all[1]?.constructDurationMs).toBeGreaterThanOrEqual(0);

    // Pages of 2 follow the token; metadata truncated to the asked limit.
    const page1 = await s.admin.listObjects({ idPrefix: "0".repeat(36), pageSize: 2, metadataLimitBytes: 8 });
    expect(page1.totalCount).toBe(4);
    expect(page1.objects.map((o) => o.id)).toEqual([hx[0], hx[1]]);
    expect(Buffer.from(page1.objects[1]?.metadata ?? []).toString()).toBe("meta-1-m");
    expect(page1.objects[1]?.metadataTruncated).toBe(true);
    expect(page1.objects[0]?.metadataTruncated).toBe(false);
    const page2 = await s.admin.listObjects({
      idPrefix: "0".repeat(36),
      pageSize: 2,
      pageToken: page1.nextPageToken,
    });
    expect(page2.objects.map((o) => o.id)).toEqual([hx[2], unsealedId.hex()]);
    expect(page2.nextPageToken).toBe("");

    // Filters and order.
    const sealedOnly = await s.admin.listAllObjects({
      idPrefix: "0".repeat(36),
      state: "OBJECT_STATE_SEALED",
    });
    expect(sealedOnly.length).toBe(3);
    const createdOnly = await s.admin.listAllObjects({ state: "OBJECT_STATE_CREATED" });
    expect(createdOnly.map((o) => o.id)).toEqual([unsealedId.hex()]);
    const midSize = await s.admin.listAllObjects({
      idPrefix: "0".repeat(36),
      minSizeBytes: 2000,
      maxSizeBytes: 3500,
    });
    expect(midSize.map((o) => o.id)).toEqual([hx[1], hx[2]]);
    const bySizeDesc = await s.admin.listAllObjects({
      idPrefix: "0".repeat(36),
      orderBy: "ORDER_BY_SIZE",
      descending: true,
    });
    expect(bySizeDesc.map((o) => o.id)).toEqual([unsealedId.hex(), hx[2], hx[1], hx[0]]);
    const byAccess = await s.admin.listAllObjects({
      idPrefix: "0".repeat(36),
      orderBy: "ORDER_BY_LAST_ACCESS",
    });
    expect(byAccess.length).toBe(4);
    for (let i = 1; i < byAccess.length; i++) {
      expect(byAccess[i]?.lastAccessTimeMs).toBeGreaterThanOrEqual(byAccess[i - 1]?.lastAccessTimeMs ?? 0);
    }

    // GetObject: full metadata, byte for byte.
    const one = await s.admin.getObject(hx[2]);
    expect(Buffer.from(one.metadata).toString()).toBe("meta-2-meta-2-meta-2-");
    expect(one.metadataTruncated).toBe(false);
    expect(one.accessCount).toBe(1);
    await expectCode(s.admin.getObject(hexId(0x123456)), "NOT_FOUND");
    await expectCode(s.admin.getObject("not-an-id"), "INVALID_ARGUMENT");
    await expectCode(s.admin.listObjects({ pageToken: "garbage" }), "INVALID_ARGUMENT");
    await expectCode(s.admin.listObjects({ idPrefix: "xyz" }), "INVALID_ARGUMENT");

    // ReadObject of an unsealed object is refused.
    await expectCode(collect(s.admin.readObject(unsealedId.hex())), "FAILED_PRECONDITION");
    expect(unsealed.length).toBe(4000);
    await s.client.abort(unsealedId);
    await s.client.release(ids[0] as ObjectID);
    expect(held.length).toBe(1);
    await s.admin.deleteObjects(ids.map((id) => id.hex()));
  });

  test("ReadObject streams a sealed object in chunks, holding it while streaming", async () => {
    const id = ObjectID.fromRandom();
    const data = pattern(2_500_000, 5);
    await s.client.createAndSeal(id, data, enc("m"));
    const chunks = await collect(s.admin.readObject(id.hex(), { chunkSizeBytes: 1024 * 1024 }));
    expect(chunks.map((c) => c.offsetBytes)).toEqual([0, 1024 * 1024, 2 * 1024 * 1024]);
    expect(chunks.every((c) => c.dataSizeBytes === data.length)).toBe(true);
    expect(Buffer.concat(chunks.map((c) => c.data)).equals(Buffer.from(data))).toBe(true);

    const part = await collect(s.admin.readObject(id.hex(), { offsetBytes: 1000, lengthBytes: 5000 }));
    expect(Buffer.concat(part.map((c) => c.data)).equals(Buffer.from(data.subarray(1000, 6000)))).toBe(true);
    await expectCode(
      collect(s.admin.readObject(id.hex(), { offsetBytes: data.length + 1 })),
      "INVALID_ARGUMENT",
    );
    await expectCode(collect(s.admin.readObject(hexId(0x777))), "NOT_FOUND");

    // While a stream is open (the reader takes one chunk and waits), the object is held.
    const reader = s.admin.readObject(id.hex(), { chunkSizeBytes: 64 * 1024 });
    const firstChunk = await reader.next();
    expect(firstChunk.done).toBe(false);
    const during = await s.admin.getObject(id.hex());
    expect(during.refCount).toBe(1);
    const readers = (await s.admin.clients()).filter((c) => c.pid === s.store.proc.pid);
    expect(readers.length).toBe(1);
    expect(readers[0]?.referencesHeld).toBe(1);
    await reader.return(undefined);
    await waitUntil(
      "the admin sees no reference",
      async () => (await s.admin.getObject(id.hex())).refCount === 0,
    );
    expect((await s.admin.clients()).some((c) => c.pid === s.store.proc.pid)).toBe(false);
    await s.admin.deleteObjects([id.hex()]);
  });

  test("DeleteObjects removes unused objects now and in-use ones at their last release", async () => {
    const free = ObjectID.fromRandom();
    const used = ObjectID.fromRandom();
    await s.client.createAndSeal(free, pattern(100, 1));
    await s.client.createAndSeal(used, pattern(100, 2));
    const buffers = await s.client.getBuffers([used], { timeoutMs: 0 });
    const before = (await s.admin.stats()).counters.deletes;
    const result = await s.admin.deleteObjects([free.hex(), used.hex(), hexId(0x999)]);
    expect(result).toEqual({ deleted: [free.hex()], pending: [used.hex()], notFound: [hexId(0x999)] });
    expect(await s.client.contains(free)).toBe(false);
    expect((await s.admin.getObject(used.hex())).deletePending).toBe(true);
    expect(buffers[0]?.length).toBe(100);
    await s.client.release(used);
    await waitUntil("the used object is evicted", async () => !(await s.client.contains(used)));
    await expectCode(s.admin.getObject(used.hex()), "NOT_FOUND");
    expect((await s.admin.stats()).counters.deletes - before).toBe(2);
    await expectCode(s.admin.deleteObjects(["zz"]), "INVALID_ARGUMENT");
  });

  test("ListClients shows a client process's pid, references, bytes created and pending gets", async () => {
    const heldHex = ObjectID.fromRandom().hex();
    const createdHex = ObjectID.fromRandom().hex();
    const proc = Bun.spawn(
      [
        "bun",
        join(FIXTURES, "holder.ts"),
        s.store.socketPath,
        heldHex,
        createdHex,
        ObjectID.fromRandom().hex(),
      ],
      { stdin: "pipe", stdout: "pipe", stderr: "inherit" },
    );
    try {
      const reader = proc.stdout.getReader();
      const { value } = await reader.read();
      expect(new TextDecoder().decode(value)).toContain("ready");
      const clients = await s.admin.clients();
      const mine = clients.find((c) => c.pid === proc.pid);
      expect(mine).toBeDefined();
      expect(mine).toMatchObject({
        uid: process.getuid?.() ?? 0,
        objectsHeld: 2,
        referencesHeld: 2,
        bytesCreated: 3000 + "held-meta".length + 5000,
        pendingGets: 1,
        objectsCreating: 1,
      });
      expect(mine?.connectTimeMs).toBeLessThanOrEqual(Date.now());
      expect((await s.admin.stats()).waitingGets).toBe(1);
      proc.stdin.write("done\n");
      await proc.stdin.end();
      expect(await proc.exited).toBe(0);
      await waitUntil(
        "the client is gone",
        async () => !(await s.admin.clients()).some((c) => c.pid === proc.pid),
      );
      // Its unsealed object was aborted at disconnect; the sealed one stays.
      await expectCode(s.admin.getObject(createdHex), "NOT_FOUND");
      expect((await s.admin.getObject(heldHex)).refCount).toBe(0);
      await s.admin.deleteObjects([heldHex]);
    } finally {
      proc.kill();
      await proc.exited;
    }
  });

  test("WatchEvents streams store events in order, filtered by kind", async () => {
    const all = s.admin.watch();
    const sealsOnly = s.admin.watch(["EVENT_KIND_OBJECT_SEALED", "EVENT_KIND_POLICY_CHANGED"]);
    const allEvents = take(all.events, 7);
    const sealEvents = take(sealsOnly.events, 2);
    await Promise.all([all.ready, sealsOnly.ready]);

    const other = await connect(s.store.socketPath);
    const id = ObjectID.fromRandom();
    const buffer = await other.create(id, 10, enc("xy"));
    buffer.set(pattern(10, 3));
    await other.seal(id);
    await other.release(id);
    // The client sends releases on the next turn of its event loop: let this one reach the store first.
    await waitUntil(
      "the release reaches the store",
      async () => (await s.admin.getObject(id.hex())).refCount === 0,
    );
    await s.admin.deleteObjects([id.hex()]);
    await s.admin.setPolicy("fifo");
    await s.admin.setPolicy("lru");
    await other.disconnect();

    const events = await allEvents;
    all.cancel();
    const kinds = events.map((e) => e.kind.replace("EVENT_KIND_", "").toLowerCase());
    expect(kinds).toEqual([
      "client_connected",
      "object_created",
      "object_sealed",
      "object_deleted",
      "policy_changed",
      "policy_changed",
      "client_disconnected",
    ]);
    expect(events[1]?.object).toMatchObject({ id: id.hex(), dataSizeBytes: 10, metadataSizeBytes: 2 });
    expect(events[2]?.object?.state).toBe("OBJECT_STATE_SEALED");
    expect(events[4]).toMatchObject({ policyFrom: "lru", policyTo: "fifo" });
    expect(events[0]?.client?.clientId).toBe(events[6]?.client?.clientId as number);
    for (let i = 1; i < events.length; i++) {
      expect(events[i]?.sequence).toBe((events[i - 1]?.sequence ?? 0) + 1);
    }
    const seals = await sealEvents;
    sealsOnly.cancel();
    expect(seals.map((e) => e.kind)).toEqual(["EVENT_KIND_OBJECT_SEALED", "EVENT_KIND_POLICY_CHANGED"]);
    expect(seals[0]?.object?.id).toBe(id.hex());
  });

  test("standard grpc.health.v1 and server reflection answer without our proto files", async () => {
    const health = loadClient(healthProtoPath, "grpc.health.v1.Health", s.grpc);
    const check = (service: string) =>
      new Promise<{ status: string }>((resolve, reject) => {
        const method = health.Check as (r: unknown, cb: (e: Error | null, r: unknown) => void) => void;
        method.call(health, { service }, (e, r) => (e ? reject(e) : resolve(r as { status: string })));
      });
    expect((await check("")).status).toBe("SERVING");
    expect((await check("plasma.admin.v1.PlasmaAdmin")).status).toBe("SERVING");
    health.close();

    const reflectionProto = join(
      import.meta.dir,
      "../../node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto",
    );
    const reflection = loadClient(reflectionProto, "grpc.reflection.v1.ServerReflection", s.grpc);
    type Reply = { listServicesResponse?: { service: { name: string }[] } };
    const open = reflection.ServerReflectionInfo as () => grpc.ClientDuplexStream<unknown, Reply>;
    const stream = open.call(reflection);
    const reply = new Promise<string[]>((resolve, reject) => {
      stream.on("data", (r: Reply) => resolve((r.listServicesResponse?.service ?? []).map((x) => x.name)));
      stream.on("error", reject);
    });
    stream.write({ listServices: "*" });
    const services = await reply;
    stream.end();
    reflection.close();
    expect(services).toContain("plasma.admin.v1.PlasmaAdmin");
    expect(services).toContain("grpc.health.v1.Health");
  });
});

/** A client of `service` (full name) from a .proto file, with its methods reachable by name. */
function loadClient(
  protoFile: string,
  service: string,
  address: string,
): grpc.Client & Record<string, unknown> {
  const definition = protoLoader.loadSync(protoFile, { enums: String });
  const Constructor = grpc.makeClientConstructor(definition[service] as grpc.ServiceDefinition, service);
  return new Constructor(address, grpc.credentials.createInsecure()) as grpc.Client & Record<string, unknown>;
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

async function take(iterable: AsyncIterable<EventView>, n: number): Promise<EventView[]> {
  const items: EventView[] = [];
  for await (const item of iterable) {
    items.push(item);
    if (items.length >= n) break;
  }
  return items;
}
