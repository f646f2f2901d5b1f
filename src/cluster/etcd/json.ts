/**
 * Shape checks for the etcd JSON gateway's answers. Every answer is untrusted: a field of the wrong type,
 * an int64 that is not a decimal string or a key that is not base64 is a ClusterBadResponseError, never a
 * crash later on.
 */
import { ClusterBadResponseError } from "../errors.ts";
import type { KeyValue } from "./backend.ts";

export type JsonObject = Readonly<Record<string, unknown>>;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const INT64 = /^-?\d{1,19}$/;

export function bad(what: string): ClusterBadResponseError {
  return new ClusterBadResponseError(
    `etcd answered ${what}; check that --cluster-etcd points at etcd's client URL (etcd 3.4 or newer)`,
  );
}

export function asObject(value: unknown, what: string): JsonObject {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw bad(`${what} that is not an object`);
  return value as JsonObject;
}

export function asArray(value: unknown, what: string): readonly unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw bad(`${what} that is not an array`);
  return value;
}

/** An int64 field as a decimal string ("0" when absent, as proto3 JSON omits zeros). */
export function int64String(value: unknown, what: string): string {
  if (value === undefined) return "0";
  if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
  if (typeof value !== "string" || !INT64.test(value)) throw bad(`${what} that is not an int64`);
  return value;
}

/** An int64 field that must fit a JS number (revisions, TTLs). */
export function int64Number(value: unknown, what: string): number {
  const number = Number(int64String(value, what));
  if (!Number.isSafeInteger(number)) throw bad(`${what} out of range`);
  return number;
}

export function fromBase64(value: unknown, what: string): string {
  if (value === undefined) return "";
  if (typeof value !== "string" || value.length % 4 !== 0 || !BASE64.test(value)) {
    throw bad(`${what} that is not base64`);
  }
  return Buffer.from(value, "base64").toString("utf8");
}

export function toBase64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

/** The key right after every key that starts with `prefix` (etcd's range_end for a prefix). */
export function prefixEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, "utf8");
  for (let i = bytes.length - 1; i >= 0; i--) {
    if ((bytes[i] as number) < 0xff) {
      const end = bytes.subarray(0, i + 1);
      end[i] = (end[i] as number) + 1;
      return end.toString("base64");
    }
  }
  return Buffer.from([0]).toString("base64"); // all 0xff: to the end of the keyspace
}

export function keyValue(raw: unknown): KeyValue {
  const kv = asObject(raw, "a key-value");
  return {
    key: fromBase64(kv.key, "a key"),
    value: fromBase64(kv.value, "a value"),
    lease: int64String(kv.lease, "a lease"),
    modRevision: int64Number(kv.mod_revision, "a mod_revision"),
  };
}

export function headerRevision(body: JsonObject): number {
  const header = body.header === undefined ? {} : asObject(body.header, "a header");
  return int64Number(header.revision, "a revision");
}
