/** The store-to-store transfer over real loopback TCP: byte-identical pulls, auth, absence, TLS. */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ClusterAuthError,
  ClusterConfigError,
  checkTransferSecurity,
  loadTransferTls,
  parseTransferAddress,
  pullObject,
  TransferConnectionError,
  TransferServer,
  type TransferServerOptions,
} from "../../src/cluster/transfer/index.ts";
import { StoreFullError } from "../../src/protocol/errors.ts";
import { ObjectID } from "../../src/protocol/object-id.ts";
import { waitUntil } from "../helpers/wait.ts";
import { MemorySink, MemorySource, patternBytes } from "./transfer-helpers.ts";

const TOKEN = "correct horse battery staple";
const CHUNK = 64 * 1024;
const servers: TransferServer[] = [];

function serve(source: MemorySource, extra: Partial<TransferServerOptions> = {}): TransferServer {
  const server = TransferServer.listen({ port: 0, source, token: TOKEN, ...extra });
  servers.push(server);
  return server;
}

afterEach(() => {
  for (const server of servers.splice(0)) server.stop();
});

describe("pulls are byte-identical", () => {
  const sizes: Array<[string, number]> = [
    ["empty", 0],
    ["one byte", 1],
    ["one chunk", CHUNK],
    ["a chunk minus one", CHUNK - 1],
    ["a chunk plus one", CHUNK + 1],
    ["many chunks", 37 * CHUNK + 123],
  ];
  for (const [name, sizeBytes] of sizes) {
    test(`${name} (${sizeBytes} bytes), with and without metadata`, async () => {
      const source = new MemorySource();
      const data = patternBytes(sizeBytes, sizeBytes + 1);
      const metadata = patternBytes(sizeBytes % 777, 5);
      const plain = source.add(data);
      const withMetadata = source.add(data, metadata);
      const server = serve(source);
      for (const [id, expectedMetadata] of [
        [plain, new Uint8Array(0)],
        [withMetadata, metadata],
      ] as const) {
        const sink = new MemorySink();
        const result = await pullObject(server.address, TOKEN, id, sink, {
          chunkBytes: CHUNK,
          windowChunks: 3,
        });
        expect(result).toMatchObject({
          status: "pulled",
          dataSize: sizeBytes,
          metadataSize: expectedMetadata.length,
        });
        const target = sink.only;
        expect(target.committed).toBe(true);
        expect(target.aborted).toBe(0);
        expect(Buffer.compare(target.data, data)).toBe(0);
        expect(Buffer.compare(target.metadata, expectedMetadata)).toBe(0);
        expect(target.writtenBytes).toBe(sizeBytes + expectedMetadata.length);
      }
      await waitUntil("the server released both objects", () => source.released === 2);
      expect(server.stats()).toMatchObject({ pullsServed: 2, activePulls: 0 });
    });
  }

  test("a large object (256 MiB) with the default chunks and window", async () => {
    const source = new MemorySource();
    const data = new Uint8Array(256 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4096) data[i] = (i >>> 12) & 255;
    data.set(patternBytes(1 << 20, 9), data.length - (1 << 20));
    const id = source.add(data, patternBytes(4096, 3));
    const server = serve(source);
    const sink = new MemorySink();
    const result = await pullObject(server.address, TOKEN, id, sink);
    expect(result.status).toBe("pulled");
    expect(Buffer.compare(sink.only.data, data)).toBe(0);
    expect(Buffer.compare(sink.only.metadata, patternBytes(4096, 3))).toBe(0);
  });

  test("concurrent pulls of several objects from one server", async () => {
    const source = new MemorySource();
    const objects = Array.from({ length: 6 }, (_, i) => {
      const data = patternBytes(200_000 + i * 50_000, 100 + i);
      return { id: source.add(data, patternBytes(i * 10, i)), data };
    });
    const server = serve(source);
    const sinks = objects.map(() => new MemorySink());
    const pulls = [...objects, ...objects].map(({ id }, i) =>
      pullObject(server.address, TOKEN, id, sinks[i % objects.length] as MemorySink, {
        chunkBytes: 16 * 1024,
      }),
    );
    const results = await Promise.all(pulls);
    expect(results.every((r) => r.status === "pulled")).toBe(true);
    objects.forEach(({ data }, i) => {
      const targets = (sinks[i] as MemorySink).targets;
      expect(targets).toHaveLength(2);
      for (const target of targets) {
        expect(target.committed).toBe(true);
        expect(Buffer.compare(target.data, data)).toBe(0);
        expect(Buffer.compare(target.metadata, patternBytes(i * 10, i))).toBe(0);
      }
    });
  });

  test("an address may be given as HOST:PORT text", async () => {
    const source = new MemorySource();
    const id = source.add(patternBytes(3000, 1));
    const server = serve(source);
    const sink = new MemorySink();
    expect((await pullObject(`127.0.0.1:${server.address.port}`, TOKEN, id, sink)).status).toBe("pulled");
  });
});

describe("absence and refusal", () => {
  test("an object the source does not have is not-available, and the sink is never touched", async () => {
    const server = serve(new MemorySource());
    const sink = new MemorySink();
    const result = await pullObject(server.address, TOKEN, ObjectID.fromRandom(), sink);
    expect(result.status).toBe("not-available");
    expect(sink.targets).toHaveLength(0);
    expect(server.stats().notFound).toBe(1);
  });

  test("a sink that refuses (store full) fails the pull with its error and the server releases", async () => {
    const source = new MemorySource();
    const id = source.add(patternBytes(500_000, 1));
    const server = serve(source);
    const sink = new MemorySink();
    sink.refuseWith = new StoreFullError("no room for 500000 bytes");
    const error = await pullObject(server.address, TOKEN, id, sink).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreFullError);
    await waitUntil("the server released the object", () => source.released === 1);
    await waitUntil("the server saw the puller close", () => server.stats().connections === 0);
  });

  for (const [name, token] of [
    ["a missing token", undefined],
    ["an empty token", ""],
    ["a wrong token", "correct horse battery stapler"],
  ] as const) {
    test(`${name} is refused with ClusterAuthError and nothing is served`, async () => {
      const source = new MemorySource();
      const id = source.add(patternBytes(10_000, 1));
      const server = serve(source);
      const sink = new MemorySink();
      const error = await pullObject(server.address, token, id, sink).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ClusterAuthError);
      expect((error as ClusterAuthError).code).toBe("CLUSTER_AUTH");
      expect((error as Error).message).toContain("--cluster-token");
      expect(sink.targets).toHaveLength(0);
      expect(source.opened).toBe(0);
      expect(server.stats().authFailures).toBe(1);
    });
  }

  test("a server without a token serves callers with or without one", async () => {
    const source = new MemorySource();
    const id = source.add(patternBytes(10_000, 1));
    const server = serve(source, { token: undefined });
    for (const token of [undefined, "anything"]) {
      expect((await pullObject(server.address, token, id, new MemorySink())).status).toBe("pulled");
    }
  });

  test("a refused connection is a TransferConnectionError", async () => {
    const server = serve(new MemorySource());
    const { port } = server.address;
    server.stop();
    const error = await pullObject(
      { host: "127.0.0.1", port },
      TOKEN,
      ObjectID.fromRandom(),
      new MemorySink(),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransferConnectionError);
    expect((error as TransferConnectionError).code).toBe("CONNECTION_ERROR");
  });
});

describe("settings", () => {
  test("a non-loopback listen address needs a token", () => {
    expect(() => checkTransferSecurity(parseTransferAddress("0.0.0.0:50052"), undefined)).toThrow(
      ClusterConfigError,
    );
    expect(() => checkTransferSecurity(parseTransferAddress("10.0.0.11:0"), "")).toThrow(/--cluster-token/);
    expect(() => checkTransferSecurity(parseTransferAddress("0.0.0.0:50052"), "t")).not.toThrow();
    expect(() => checkTransferSecurity(parseTransferAddress("127.0.0.1:50052"), undefined)).not.toThrow();
    expect(() => checkTransferSecurity(parseTransferAddress("[::1]:0"), undefined)).not.toThrow();
    expect(() => TransferServer.listen({ host: "0.0.0.0", port: 0, source: new MemorySource() })).toThrow(
      ClusterConfigError,
    );
  });

  test("addresses parse as HOST:PORT and nothing else", () => {
    expect(parseTransferAddress("10.0.0.11:50052")).toEqual({ host: "10.0.0.11", port: 50052 });
    expect(parseTransferAddress("[::1]:7")).toEqual({ host: "::1", port: 7 });
    for (const bad of ["10.0.0.11", ":50052", "host:99999", "a b:1"]) {
      expect(() => parseTransferAddress(bad)).toThrow(ClusterConfigError);
    }
  });

  test("TLS settings need a cert and a key, and name an unreadable file", () => {
    expect(loadTransferTls({})).toBeNull();
    expect(() => loadTransferTls({ certPath: "/etc/hostname" })).toThrow(/--cluster-tls-key/);
    expect(() => loadTransferTls({ certPath: "/nonexistent/c.pem", keyPath: "/nonexistent/k.pem" })).toThrow(
      /--cluster-tls-cert \/nonexistent\/c.pem/,
    );
  });
});

describe("TLS", () => {
  const dir = mkdtempSync(join(tmpdir(), "plasma-transfer-tls-"));
  function makeCertificate(): { certPath: string; keyPath: string } {
    const certPath = join(dir, "cert.pem");
    const keyPath = join(dir, "key.pem");
    const made = Bun.spawnSync([
      "openssl",
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      keyPath,
      "-out",
      certPath,
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ]);
    if (made.exitCode !== 0) throw new Error(`openssl failed: ${made.stderr.toString()}`);
    return { certPath, keyPath };
  }

  test("a pull over TLS with a self-signed certificate the puller trusts; untrusted is refused", async () => {
    const { certPath, keyPath } = makeCertificate();
    writeFileSync(join(dir, "ca.pem"), readFileSync(certPath));
    const tls = loadTransferTls({ certPath, keyPath, caPath: join(dir, "ca.pem") });
    expect(tls).not.toBeNull();
    const source = new MemorySource();
    const data = patternBytes(3 * 1024 * 1024 + 17, 4);
    const id = source.add(data, patternBytes(99, 2));
    const server = serve(source, { tls });
    try {
      const sink = new MemorySink();
      const result = await pullObject(server.address, TOKEN, id, sink, { tls: { ca: tls?.ca } });
      expect(result.status).toBe("pulled");
      expect(Buffer.compare(sink.only.data, data)).toBe(0);
      expect(Buffer.compare(sink.only.metadata, patternBytes(99, 2))).toBe(0);

      const untrusted = await pullObject(server.address, TOKEN, id, new MemorySink(), { tls: {} }).catch(
        (e: unknown) => e,
      );
      expect(untrusted).toBeInstanceOf(TransferConnectionError);
      expect((untrusted as Error).message).toContain("TLS");
      const wrongName = await pullObject(server.address, TOKEN, id, new MemorySink(), {
        tls: { ca: tls?.ca, serverName: "elsewhere.example" },
      }).catch((e: unknown) => e);
      expect(wrongName).toBeInstanceOf(TransferConnectionError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
