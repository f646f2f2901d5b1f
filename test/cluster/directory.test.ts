import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { DirectoryLayout, holdingCodec, nodeInfoCodec } from "../../src/cluster/directory.ts";
import { DirectoryValueError } from "../../src/cluster/errors.ts";
import { RegistrationQueue } from "../../src/cluster/registration-queue.ts";

const layout = new DirectoryLayout("prod");
const hex = (n: number): string => n.toString(16).padStart(40, "0");

describe("key layout", () => {
  test("object and node keys, and their parsers", () => {
    expect(layout.objectKey(hex(1), "host-a")).toBe(`/bun-plasma/prod/objects/${hex(1)}/host-a`);
    expect(layout.nodeKey("host-a")).toBe("/bun-plasma/prod/nodes/host-a");
    expect(layout.parseObjectKey(layout.objectKey(hex(7), "b.c_d"))).toEqual({
      idHex: hex(7),
      nodeName: "b.c_d",
    });
    expect(layout.parseNodeKey(layout.nodeKey("n1"))).toBe("n1");
    for (const garbage of [
      `${layout.objectsPrefix}${hex(1)}`,
      `${layout.objectsPrefix}xyz/n`,
      `${layout.objectsPrefix}${hex(1)}/n/extra`,
      "/other/key",
    ]) {
      expect(layout.parseObjectKey(garbage)).toBeNull();
    }
    expect(layout.parseNodeKey(`${layout.nodesPrefix}bad/name`)).toBeNull();
  });

  test("names and ids are checked", () => {
    for (const bad of ["", "-lead", "has space", "slash/", "é", "x".repeat(64)]) {
      expect(() => layout.nodeKey(bad)).toThrow(TypeError);
      expect(() => new DirectoryLayout(bad)).toThrow(TypeError);
    }
    expect(() => layout.objectPrefix("ABCD")).toThrow(TypeError);
    expect(() => layout.objectPrefix(hex(1).toUpperCase().replace("0", "A"))).toThrow(TypeError);
  });

  test("parseObjectKey inverts objectKey for every valid id and name", () => {
    const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/);
    const id = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => Buffer.from(b).toString("hex"));
    fc.assert(
      fc.property(id, name, (idHex, nodeName) => {
        expect(layout.parseObjectKey(layout.objectKey(idHex, nodeName))).toEqual({ idHex, nodeName });
      }),
    );
  });
});

describe("value codecs", () => {
  test("round-trip valid values", () => {
    const holding = fc.record({ dataSizeBytes: fc.maxSafeNat(), metadataSizeBytes: fc.maxSafeNat() });
    fc.assert(fc.property(holding, (h) => expect(holdingCodec.decode(holdingCodec.encode(h))).toEqual(h)));
    const node = {
      transferAddress: "10.0.0.11:50052",
      capacityBytes: 4 << 30,
      usedBytes: 12,
      startTimeMs: Date.now(),
    };
    expect(nodeInfoCodec.decode(nodeInfoCodec.encode(node))).toEqual(node);
    expect(
      nodeInfoCodec.decode(nodeInfoCodec.encode({ ...node, transferAddress: "[::1]:1" })).transferAddress,
    ).toBe("[::1]:1");
  });

  test("reject garbage with a DirectoryValueError", () => {
    const garbage = [
      "",
      "null",
      "[1,2]",
      '{"dataSizeBytes":1}',
      '{"dataSizeBytes":-1,"metadataSizeBytes":0}',
      '{"dataSizeBytes":1.5,"metadataSizeBytes":0}',
      '{"dataSizeBytes":"1","metadataSizeBytes":0}',
      '{"dataSizeBytes":1e300,"metadataSizeBytes":0}',
      '{"dataSizeBytes":1,"metadataSizeBytes":0,"extra":1}',
      `{"dataSizeBytes":1,"metadataSizeBytes":0,"pad":"${"x".repeat(2000)}"}`,
    ];
    for (const text of garbage) expect(() => holdingCodec.decode(text)).toThrow(DirectoryValueError);
    const node = { transferAddress: "h:1", capacityBytes: 1, usedBytes: 0, startTimeMs: 0 };
    for (const transferAddress of ["", "nohost", "h:99999", "h:1/path", 5]) {
      expect(() => nodeInfoCodec.decode(JSON.stringify({ ...node, transferAddress }))).toThrow(
        DirectoryValueError,
      );
    }
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          holdingCodec.decode(text);
        } catch (error) {
          expect(error).toBeInstanceOf(DirectoryValueError);
        }
      }),
    );
  });
});

describe("the registration queue", () => {
  const sizes = { dataSizeBytes: 10, metadataSizeBytes: 2 };

  test("300 registrations go out as transactions of 128, 128 and 44 ops", () => {
    const queue = new RegistrationQueue(layout, "a");
    for (let i = 0; i < 300; i++) queue.register(hex(i), sizes);
    const lengths: number[] = [];
    for (let batch = queue.takeBatch("7"); batch !== null; batch = queue.takeBatch("7")) {
      lengths.push(batch.ops.length);
      queue.committed(batch);
    }
    expect(lengths).toEqual([128, 128, 44]);
  });

  test("a register and unregister of the same id before a flush send nothing", () => {
    const queue = new RegistrationQueue(layout, "a");
    queue.register(hex(1), sizes);
    queue.unregister(hex(1));
    expect(queue.pendingCount).toBe(0);
    expect(queue.takeBatch("7")).toBeNull();
  });

  test("after a lease loss everything held is registered again under the new lease", () => {
    const queue = new RegistrationQueue(layout, "a");
    for (let i = 0; i < 3; i++) queue.register(hex(i), sizes);
    queue.committed(queue.takeBatch("1") ?? fail());
    queue.leaseLost();
    const batch = queue.takeBatch("2") ?? fail();
    expect(batch.ops.map((op) => [op.type, op.type === "put" ? op.lease : ""])).toEqual([
      ["put", "2"],
      ["put", "2"],
      ["put", "2"],
    ]);
  });

  test("model: whatever happens, once drained etcd holds exactly what the node holds", () => {
    type Command =
      | { kind: "register"; id: number; size: number }
      | { kind: "unregister"; id: number }
      | { kind: "flush"; outcome: "ok" | "lost" | "applied-but-failed" }
      | { kind: "leaseLost" };
    const command: fc.Arbitrary<Command> = fc.oneof(
      fc.record({ kind: fc.constant("register" as const), id: fc.nat(300), size: fc.nat(1000) }),
      fc.record({ kind: fc.constant("unregister" as const), id: fc.nat(300) }),
      fc.record({
        kind: fc.constant("flush" as const),
        outcome: fc.constantFrom("ok" as const, "lost" as const, "applied-but-failed" as const),
      }),
      fc.record({ kind: fc.constant("leaseLost" as const) }),
    );
    fc.assert(
      fc.property(fc.array(command, { maxLength: 400 }), (commands) => {
        const queue = new RegistrationQueue(layout, "a");
        const etcd = new Map<string, { value: string; lease: string }>();
        const held = new Map<string, number>();
        let lease = 1;
        const apply = (ops: ReturnType<RegistrationQueue["takeBatch"]>): void => {
          if (ops === null) return;
          expect(ops.ops.length).toBeLessThanOrEqual(128);
          expect(new Set(ops.ops.map((op) => op.key)).size).toBe(ops.ops.length);
          for (const op of ops.ops) {
            if (op.type === "put") etcd.set(op.key, { value: op.value, lease: op.lease ?? "0" });
            else etcd.delete(op.key);
          }
        };
        for (const c of commands) {
          if (c.kind === "register") {
            queue.register(hex(c.id), { dataSizeBytes: c.size, metadataSizeBytes: 0 });
            held.set(hex(c.id), c.size);
          } else if (c.kind === "unregister") {
            queue.unregister(hex(c.id));
            held.delete(hex(c.id));
          } else if (c.kind === "leaseLost") {
            for (const [key, entry] of etcd) if (entry.lease === String(lease)) etcd.delete(key);
            lease++;
            queue.leaseLost();
          } else {
            const batch = queue.takeBatch(String(lease));
            if (batch === null) continue;
            if (c.outcome !== "lost") apply(batch);
            if (c.outcome === "ok") queue.committed(batch);
            else queue.failed(batch);
          }
        }
        for (
          let batch = queue.takeBatch(String(lease));
          batch !== null;
          batch = queue.takeBatch(String(lease))
        ) {
          apply(batch);
          queue.committed(batch);
        }
        const expected = [...held].map(([id, size]) => [
          layout.objectKey(id, "a"),
          holdingCodec.encode({ dataSizeBytes: size, metadataSizeBytes: 0 }),
        ]);
        expect([...etcd].map(([key, e]) => [key, e.value]).sort()).toEqual(expected.sort());
        expect([...etcd.values()].every((e) => e.lease === String(lease))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

function fail(): never {
  throw new Error("expected a batch");
}
