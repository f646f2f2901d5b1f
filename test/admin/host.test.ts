import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type AdminStore, startAdminStore } from "./helpers.ts";

/**
 * DNS rebinding: a page on a name the attacker controls, made to resolve to 127.0.0.1, reaches admin
 * HTTP with its own name in the Host header. Bun's fetch sends the Host header it is given, as that
 * page's browser would.
 */
describe("admin HTTP checks the Host header", () => {
  let s: AdminStore;
  let port: string;
  beforeAll(async () => {
    s = await startAdminStore({ memory: "4MiB", args: ["--admin-allowed-host", "plasma.internal"] });
    port = s.http.split(":")[1] as string;
  });
  afterAll(async () => {
    await s?.stop();
  });
  const statusFor = async (host: string, path = "/v1/stats") =>
    (await fetch(`http://${s.http}${path}`, { headers: s.headers({ host }) })).status;

  test("a name that is not this host is refused with 421, even with the token, and logged", async () => {
    expect(await statusFor(`evil.example:${port}`)).toBe(421);
    expect(await statusFor("evil.example")).toBe(421);
    expect(await statusFor(`evil.example:${port}`, "/")).toBe(421);
    expect(await statusFor(`evil.example:${port}`, "/metrics")).toBe(421);
    expect(await statusFor(`localhost.evil.example:${port}`)).toBe(421);
    const body = await fetch(`http://${s.http}/v1/stats`, { headers: s.headers({ host: "evil.example" }) });
    expect(((await body.json()) as { error: { code: string } }).error.code).toBe("MISDIRECTED_REQUEST");
    await s.store.waitForOutput(/"host":"evil\.example[^\n]*admin HTTP request refused: Host not allowed/);
  });

  test("IP addresses, localhost and names given with --admin-allowed-host are accepted", async () => {
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `[::1]:${port}`,
      "10.1.2.3:9090",
      "localhost",
    ]) {
      expect([host, await statusFor(host)]).toEqual([host, 200]);
    }
    expect(await statusFor(`plasma.internal:${port}`)).toBe(200);
    expect(await statusFor("PLASMA.INTERNAL.")).toBe(200);
  });

  test("/healthz and /readyz answer whatever the Host", async () => {
    expect(await statusFor("evil.example", "/healthz")).toBe(200);
    expect(await statusFor("evil.example", "/readyz")).toBe(200);
  });
});
