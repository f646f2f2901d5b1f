/** Malformed percent-encoding in an admin URL is the client's error (400), not the store's (500). */
import { expect, test } from "bun:test";
import { ObjectID } from "../../src/client/index.ts";
import { useAdminStore } from "../helpers/store-fixture.ts";

const s = useAdminStore({ memory: "4MiB" });

test("GET, DELETE and the download of /v1/objects/%ZZ answer 400 INVALID_ARGUMENT; the store keeps serving", async () => {
  const url = (path: string) => `http://${s.http}${path}`;
  for (const [method, path] of [
    ["GET", "/v1/objects/%ZZ"],
    ["DELETE", "/v1/objects/%ZZ"],
    ["GET", "/v1/objects/%E0%A4%A/data"],
  ] as const) {
    const response = await fetch(url(path), { method, headers: s.headers() });
    expect({ method, path, status: response.status }).toEqual({ method, path, status: 400 });
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("INVALID_ARGUMENT");
    expect(body.error.message).toContain("percent-encoding");
  }
  const id = ObjectID.fromRandom();
  await s.client.createAndSeal(id, new Uint8Array(10));
  expect((await fetch(url(`/v1/objects/${id.hex()}`), { headers: s.headers() })).status).toBe(200);
  expect(await s.client.contains(id)).toBe(true);
});
