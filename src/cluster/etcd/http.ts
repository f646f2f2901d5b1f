/**
 * POSTs JSON to etcd's gateway over HTTP/1.1, with a timeout on every request, a bound on every answer,
 * and failover across the endpoints of --cluster-etcd: a refused connection, a timeout or a 5xx moves on
 * to the next endpoint; when none answers the caller gets one ClusterUnavailableError naming them all.
 */

import { PlasmaError } from "../../protocol/errors.ts";
import { ClusterBadResponseError, ClusterLeaseLostError, ClusterUnavailableError } from "../errors.ts";
import { MAX_REQUEST_BYTES } from "./backend.ts";
import { asObject, bad, type JsonObject } from "./json.ts";

export interface EtcdHttpOptions {
  /** Client URLs, e.g. ["http://10.0.0.5:2379"]. */
  readonly endpoints: readonly string[];
  readonly requestTimeoutMs: number;
  /** Largest answer read (range answers can exceed etcd's request limit). */
  readonly maxResponseBytes: number;
}

/** Raised inside the loop for a failure that another endpoint might not have. */
class EndpointFailure extends Error {}

/** Splits and checks --cluster-etcd's comma-separated URL list. */
export function parseEndpoints(urls: string): string[] {
  const endpoints = urls
    .split(",")
    .map((url) => url.trim().replace(/\/+$/, ""))
    .filter((url) => url !== "");
  if (endpoints.length === 0) throw new TypeError("no etcd endpoint given (expected http://host:port[,...])");
  for (const url of endpoints) {
    if (!/^https?:\/\/[^/\s]+$/.test(url))
      throw new TypeError(`etcd endpoint ${JSON.stringify(url)} is not http(s)://host:port`);
  }
  return endpoints;
}

export class EtcdHttp {
  readonly #options: EtcdHttpOptions;
  #current = 0;

  constructor(options: EtcdHttpOptions) {
    if (options.endpoints.length === 0) throw new TypeError("EtcdHttp needs at least one endpoint");
    this.#options = options;
  }

  get endpoints(): readonly string[] {
    return this.#options.endpoints;
  }

  /** POSTs `body` to `path` and returns the parsed JSON object, trying each endpoint once. */
  async post(path: string, body: JsonObject): Promise<JsonObject> {
    const response = await this.#send(path, body, undefined);
    try {
      return await this.#readJson(response, path);
    } catch (error) {
      if (isNetworkError(error))
        throw new ClusterUnavailableError(`etcd stopped answering ${path}: ${(error as Error).message}`);
      throw error;
    }
  }

  /** POSTs and returns the open streaming response (a watch), trying each endpoint once. */
  async open(path: string, body: JsonObject, signal: AbortSignal): Promise<Response> {
    return this.#send(path, body, signal);
  }

  async #send(path: string, body: JsonObject, stream: AbortSignal | undefined): Promise<Response> {
    const payload = JSON.stringify(body);
    if (payload.length > MAX_REQUEST_BYTES) {
      throw new RangeError(
        `etcd request of ${payload.length} bytes exceeds etcd's ${MAX_REQUEST_BYTES}-byte limit`,
      );
    }
    const { endpoints, requestTimeoutMs } = this.#options;
    const failures: string[] = [];
    for (let attempt = 0; attempt < endpoints.length; attempt++) {
      const endpoint = endpoints[(this.#current + attempt) % endpoints.length] as string;
      // A unary request's timeout covers its whole body; a stream's only the wait for its headers.
      const controller = new AbortController();
      const onAbort = (): void => controller.abort(stream?.reason);
      stream?.addEventListener("abort", onAbort, { once: true });
      const timer = setTimeout(
        () => controller.abort(new DOMException("timed out", "TimeoutError")),
        requestTimeoutMs,
      );
      timer.unref();
      try {
        const response = await fetch(`${endpoint}${path}`, {
          method: "POST",
          body: payload,
          headers: { "content-type": "application/json" },
          signal: controller.signal,
        });
        if (stream !== undefined) clearTimeout(timer);
        if (response.status >= 500) {
          await response.body?.cancel();
          throw new EndpointFailure(`HTTP ${response.status}`);
        }
        if (response.status !== 200) await this.#throwClientError(response, path);
        this.#current = (this.#current + attempt) % endpoints.length;
        return response;
      } catch (error) {
        if (!(error instanceof EndpointFailure) && !isNetworkError(error)) throw error;
        if (stream?.aborted) throw error;
        failures.push(`${endpoint}: ${(error as Error).message}`);
        clearTimeout(timer);
        stream?.removeEventListener("abort", onAbort);
      }
    }
    throw new ClusterUnavailableError(
      `etcd is unreachable (${failures.join("; ")}): check that etcd is running and that --cluster-etcd ` +
        "lists its client URLs; local operations go on meanwhile",
    );
  }

  async #throwClientError(response: Response, path: string): Promise<never> {
    const body = await this.#readJson(response, path).catch(() => ({}) as JsonObject);
    const message = typeof body.message === "string" ? body.message.slice(0, 200) : `HTTP ${response.status}`;
    if (message.includes("lease not found")) {
      throw new ClusterLeaseLostError(`etcd ${path}: ${message} (the lease expired; it is granted again)`);
    }
    throw new ClusterBadResponseError(`etcd refused ${path}: ${message}`);
  }

  async #readJson(response: Response, path: string): Promise<JsonObject> {
    const limit = this.#options.maxResponseBytes;
    const declared = Number(response.headers.get("content-length") ?? "0");
    if (declared > limit) {
      await response.body?.cancel();
      throw bad(`${declared} bytes to ${path}, over the ${limit}-byte limit`);
    }
    const text = await readBounded(response, limit, path);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw bad(`non-JSON to ${path}`);
    }
    return asObject(parsed, `a reply to ${path}`);
  }
}

/** Reads a body as text, refusing to buffer more than `limit` bytes. */
async function readBounded(response: Response, limit: number, path: string): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw bad(`more than ${limit} bytes to ${path}`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** A refused or reset connection, a DNS failure or a timeout: another endpoint may still answer. */
export function isNetworkError(error: unknown): boolean {
  if (!(error instanceof Error) || error instanceof PlasmaError) return false;
  if (error.name === "TimeoutError" || error.name === "AbortError") return true;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" || error instanceof TypeError;
}
