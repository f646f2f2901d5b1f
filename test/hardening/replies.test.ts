import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, LimitExceededError, ObjectID, type PlasmaClient } from "../../src/client/index.ts";
import { useStore } from "../helpers/store-fixture.ts";
import { debugFigures } from "./helpers.ts";

const MiB = 1024 * 1024;

describe("a store without --max-* flags: going past a default limit is a LimitExceededError", () => {
  const fx = useStore({ memory: String(16 * MiB) });
  let client: PlasmaClient;
  beforeAll(async () => {
    client = await connect(fx.store.socketPath);
  });
  afterAll(async () => {
    await client.disconnect();
  });

  test("--max-ids-per-request defaults to 100000: 100001 ids is LimitExceededError, the connection stays up", async () => {
    const ids = Array.from({ length: 100_001 }, () => ObjectID.fromRandom());
    for (const call of [
      () => client.getBuffers(ids, { timeoutMs: 0 }),
      () => client.getMetadata(ids, { timeoutMs: 0 }),
      () => client.delete(ids),
    ]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LimitExceededError);
      expect((error as LimitExceededError).code).toBe("LIMIT_EXCEEDED");
      expect((error as Error).message).toContain("--max-ids-per-request");
    }
    expect(await client.getMetadata(ids.slice(0, 100_000), { timeoutMs: 0 })).toEqual(
      new Array(100_000).fill(null),
    );
  });

  test("--max-metadata-size defaults to 1 MiB: 1 MiB + 1 is LimitExceededError, the connection stays up", async () => {
    const error = await client
      .create(ObjectID.fromRandom(), 10, new Uint8Array(MiB + 1))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LimitExceededError);
    expect((error as Error).message).toContain("--max-metadata-size");
    const id = ObjectID.fromRandom();
    await client.createAndSeal(id, new Uint8Array(3), new Uint8Array(MiB).fill(7));
    expect((await client.getMetadata([id]))[0]?.length).toBe(MiB);
    expect(await client.delete(id)).toBe(1);
    const figures = await debugFigures(fx.client);
    expect(figures.objects).toBe(0);
    expect(figures.invariants).toBe("ok");
  });
});
