/**
 * The directory's bookkeeping, pure (no I/O, no timers): the key layout in etcd, the value codecs, and the
 * registration queue that turns seals and deletions into transactions of at most 128 operations.
 *
 *   /<prefix>/<cluster>/objects/<idhex>/<node>  → {"dataSizeBytes":N,"metadataSizeBytes":N}
 *   /<prefix>/<cluster>/nodes/<node>            → {"transferAddress":"h:p","capacityBytes":N,"usedBytes":N,"startTimeMs":N}
 *
 * Every key is attached to the node's lease, so a node that dies leaves the directory when its lease expires.
 */
import { OBJECT_ID_BYTES } from "../protocol/object-id.ts";
import { DirectoryValueError } from "./errors.ts";
import type { TxnOp } from "./etcd/backend.ts";

export const DEFAULT_KEY_PREFIX = "bun-plasma";
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const ID_HEX = new RegExp(`^[0-9a-f]{${OBJECT_ID_BYTES * 2}}$`);
const HOST_PORT = /^[A-Za-z0-9._:[\]-]{1,253}:\d{1,5}$/;
/** Sizes, capacities and times: non-negative integers a JS number holds exactly. */
const MAX_COUNT = Number.MAX_SAFE_INTEGER;

export interface ObjectHolding {
  readonly dataSizeBytes: number;
  readonly metadataSizeBytes: number;
}

export interface NodeInfo {
  readonly transferAddress: string;
  readonly capacityBytes: number;
  readonly usedBytes: number;
  readonly startTimeMs: number;
}

/** Whether `name` is a valid cluster or node name: 1-63 of [A-Za-z0-9._-], starting alphanumeric. */
export function isValidName(name: string): boolean {
  return NAME.test(name);
}

export function isValidIdHex(idHex: string): boolean {
  return ID_HEX.test(idHex);
}

/** Where one cluster's keys live. Names are checked here, once; every key below is built from them. */
export class DirectoryLayout {
  readonly root: string;
  constructor(clusterName: string, prefix = DEFAULT_KEY_PREFIX) {
    if (!isValidName(clusterName))
      throw new TypeError(`cluster name ${JSON.stringify(clusterName)}: ${NAME_RULE}`);
    if (!isValidName(prefix)) throw new TypeError(`key prefix ${JSON.stringify(prefix)}: ${NAME_RULE}`);
    this.root = `/${prefix}/${clusterName}/`;
  }
  get objectsPrefix(): string {
    return `${this.root}objects/`;
  }
  get nodesPrefix(): string {
    return `${this.root}nodes/`;
  }
  objectPrefix(idHex: string): string {
    if (!isValidIdHex(idHex))
      throw new TypeError(`object id ${JSON.stringify(idHex.slice(0, 64))} is not 40 lower-case hex digits`);
    return `${this.objectsPrefix}${idHex}/`;
  }
  objectKey(idHex: string, nodeName: string): string {
    return `${this.objectPrefix(idHex)}${checkNodeName(nodeName)}`;
  }
  nodeKey(nodeName: string): string {
    return `${this.nodesPrefix}${checkNodeName(nodeName)}`;
  }
  /** The (id, node) of an object key, or null for a key that is not one (garbage is skipped, not trusted). */
  parseObjectKey(key: string): { idHex: string; nodeName: string } | null {
    if (!key.startsWith(this.objectsPrefix)) return null;
    const [idHex, nodeName, ...rest] = key.slice(this.objectsPrefix.length).split("/");
    if (rest.length > 0 || idHex === undefined || nodeName === undefined) return null;
    return isValidIdHex(idHex) && isValidName(nodeName) ? { idHex, nodeName } : null;
  }
  /** The node name of a node key, or null. */
  parseNodeKey(key: string): string | null {
    if (!key.startsWith(this.nodesPrefix)) return null;
    const name = key.slice(this.nodesPrefix.length);
    return isValidName(name) ? name : null;
  }
}

const NAME_RULE = "use 1-63 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit";

function checkNodeName(name: string): string {
  if (!isValidName(name)) throw new TypeError(`node name ${JSON.stringify(name.slice(0, 80))}: ${NAME_RULE}`);
  return name;
}

function count(record: Record<string, unknown>, field: string, what: string): number {
  const value = record[field];
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > MAX_COUNT) {
    throw new DirectoryValueError(`${what}: ${field} is not a non-negative integer`);
  }
  return value;
}

function record(text: string, what: string, fields: readonly string[]): Record<string, unknown> {
  if (text.length > 1024) throw new DirectoryValueError(`${what}: ${text.length} bytes, more than 1024`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new DirectoryValueError(`${what}: not JSON`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new DirectoryValueError(`${what}: not an object`);
  }
  const keys = Object.keys(parsed);
  if (keys.length !== fields.length || !fields.every((f) => keys.includes(f))) {
    throw new DirectoryValueError(`${what}: expected exactly the fields ${fields.join(", ")}`);
  }
  return parsed as Record<string, unknown>;
}

export const holdingCodec = {
  encode(holding: ObjectHolding): string {
    return JSON.stringify({
      dataSizeBytes: holding.dataSizeBytes,
      metadataSizeBytes: holding.metadataSizeBytes,
    });
  },
  decode(text: string): ObjectHolding {
    const what = "an object entry in the cluster directory";
    const r = record(text, what, ["dataSizeBytes", "metadataSizeBytes"]);
    return {
      dataSizeBytes: count(r, "dataSizeBytes", what),
      metadataSizeBytes: count(r, "metadataSizeBytes", what),
    };
  },
};

export const nodeInfoCodec = {
  encode(node: NodeInfo): string {
    const { transferAddress, capacityBytes, usedBytes, startTimeMs } = node;
    return JSON.stringify({ transferAddress, capacityBytes, usedBytes, startTimeMs });
  },
  decode(text: string): NodeInfo {
    const what = "a node entry in the cluster directory";
    const r = record(text, what, ["transferAddress", "capacityBytes", "usedBytes", "startTimeMs"]);
    const address = r.transferAddress;
    if (
      typeof address !== "string" ||
      !HOST_PORT.test(address) ||
      Number(address.slice(address.lastIndexOf(":") + 1)) > 65535
    ) {
      throw new DirectoryValueError(`${what}: transferAddress is not host:port`);
    }
    return {
      transferAddress: address,
      capacityBytes: count(r, "capacityBytes", what),
      usedBytes: count(r, "usedBytes", what),
      startTimeMs: count(r, "startTimeMs", what),
    };
  },
};

/** One transaction's worth of registration work, taken from the queue and given back as done or failed. */
export interface RegistrationBatch {
  readonly ops: readonly TxnOp[];
  /** The id of each op, in order. */
  readonly ids: readonly string[];
}
