/**
 * One watch over the gateway's `/v3/watch`: a streaming response of newline-separated JSON objects. A
 * broken stream is reopened from the revision after the last event delivered (with backoff), so a watcher
 * sees every event once, in order, across etcd restarts; only compaction ends it.
 */
import { ClusterBadResponseError } from "../errors.ts";
import type { WatchHandlers } from "./backend.ts";
import type { EtcdHttp } from "./http.ts";
import { asArray, asObject, bad, int64Number, type JsonObject, keyValue } from "./json.ts";

/** A longer line than this in the watch stream is refused (etcd sends one event batch per line). */
export const MAX_WATCH_MESSAGE_BYTES = 4 * 1024 * 1024;
const MAX_BACKOFF_MS = 2000;

export async function runWatch(
  http: EtcdHttp,
  range: JsonObject,
  fromRevision: number,
  handlers: WatchHandlers,
  signal: AbortSignal,
): Promise<void> {
  let next = fromRevision;
  let backoffMs = 100;
  while (!signal.aborted) {
    try {
      const body = { create_request: { ...range, start_revision: String(next) } };
      const response = await http.open("/v3/watch", body, signal);
      for await (const message of jsonLines(response, signal)) {
        const applied = applyMessage(message, next, handlers);
        if (applied === "compacted") return;
        next = applied;
        backoffMs = 100;
      }
      if (signal.aborted) return;
      throw new ClusterBadResponseError("the etcd watch stream ended; reopening it");
    } catch (error) {
      if (signal.aborted) return;
      const fatal = error instanceof ClusterBadResponseError && error.message.includes("compacted");
      handlers.onError?.(error as Error, fatal);
      if (fatal) return;
      await sleep(backoffMs, signal);
      backoffMs = Math.min(MAX_BACKOFF_MS, backoffMs * 2);
    }
  }
}

/** Delivers one message's events; returns the next revision to watch from, or "compacted". */
function applyMessage(raw: unknown, next: number, handlers: WatchHandlers): number | "compacted" {
  const message = asObject(raw, "a watch message");
  if (message.error !== undefined) throw bad(`a watch error ${JSON.stringify(message.error).slice(0, 200)}`);
  const result = asObject(message.result, "a watch result");
  if (int64Number(result.compact_revision, "a compact_revision") > 0) {
    handlers.onError?.(
      new ClusterBadResponseError(`etcd compacted the revisions this watch needed (from ${next})`),
      true,
    );
    return "compacted";
  }
  if (result.canceled === true)
    throw bad(`a cancelled watch (${String(result.cancel_reason ?? "no reason")})`);
  if (result.created === true) handlers.onConnected?.();
  let nextRevision = next;
  for (const rawEvent of asArray(result.events, "watch events")) {
    const event = asObject(rawEvent, "a watch event");
    if (event.type !== undefined && event.type !== "PUT" && event.type !== "DELETE")
      throw bad("an unknown event type");
    const kv = keyValue(event.kv);
    if (kv.modRevision < nextRevision) continue; // seen before the stream was reopened
    nextRevision = kv.modRevision + 1;
    const type = event.type === "DELETE" ? "delete" : "put";
    handlers.onEvent({
      type,
      key: kv.key,
      value: type === "put" ? kv.value : "",
      modRevision: kv.modRevision,
    });
  }
  return nextRevision;
}

/** Parses a streaming body as newline-separated JSON, each line at most MAX_WATCH_MESSAGE_BYTES. */
async function* jsonLines(response: Response, signal: AbortSignal): AsyncGenerator<unknown> {
  if (response.body === null) return;
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  try {
    while (!signal.aborted) {
      const { done, value } = await reader.read();
      if (done) return;
      buffered += decoder.decode(value, { stream: true });
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line !== "") yield parse(line);
        newline = buffered.indexOf("\n");
      }
      if (buffered.length > MAX_WATCH_MESSAGE_BYTES)
        throw bad(`a watch message over ${MAX_WATCH_MESSAGE_BYTES} bytes`);
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

function parse(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw bad("a watch message that is not JSON");
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
