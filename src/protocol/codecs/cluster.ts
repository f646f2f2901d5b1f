import type { ByteReader, ByteWriter } from "../bytes.ts";
import { ProtocolError } from "../errors.ts";
import { beginFrame, endFrame, FLAG_REPLY } from "../frame.ts";
import { emptyRequest, type MessageCodec } from "./codec.ts";
import { endBody, readIds, readReplyCount, writeIds } from "./fields.ts";
import { MessageType } from "./message-type.ts";

/** Cluster queries (a store started with --cluster-etcd); a store without a cluster answers CLUSTER_OFF. */

/** Ids in one Locate request. */
export const MAX_LOCATE_IDS = 1024;
/** Node names per id in a Locate reply, and nodes in a Nodes reply. */
export const MAX_CLUSTER_NODES = 1024;
/** A node name is 1-63 characters (docs/cluster.md); a transfer address HOST:PORT at most 261. */
export const MAX_NODE_NAME_BYTES = 63;
export const MAX_TRANSFER_ADDRESS_BYTES = 261;

function checkCount(count: number, max: number, what: string): void {
  if (count > max) throw new ProtocolError(`${count} ${what} is over the limit of ${max}.`);
}

// ---------------------------------------------------------------- Locate

/**
 * Locate: u32 count, ids → u32 count (= the ids), per id: u32 name count, then each node name (string).
 * The nodes whose stores hold each id, from the cluster's directory.
 */
export const LocateCodec = {
  type: MessageType.Locate,
  encodeRequest(out: ByteWriter, requestId: number, ids: readonly Uint8Array[]): void {
    checkCount(ids.length, MAX_LOCATE_IDS, "ids in one locate");
    const at = beginFrame(out, MessageType.Locate, 0, requestId);
    writeIds(out, ids);
    endFrame(out, at);
  },
  decodeRequest(r: ByteReader): Uint8Array[] {
    const ids = readIds(r, MAX_LOCATE_IDS);
    endBody(r, MessageType.Locate);
    return ids;
  },
  encodeReply(out: ByteWriter, requestId: number, holders: readonly (readonly string[])[]): void {
    const at = beginFrame(out, MessageType.Locate, FLAG_REPLY, requestId);
    out.u32(holders.length);
    for (const names of holders) {
      const kept = names.slice(0, MAX_CLUSTER_NODES);
      out.u32(kept.length);
      for (const name of kept) out.string(name);
    }
    endFrame(out, at);
  },
  decodeReply(r: ByteReader): string[][] {
    const count = readReplyCount(r, MessageType.Locate, undefined, 4);
    checkCount(count, MAX_LOCATE_IDS, "ids in a locate reply");
    const holders: string[][] = new Array(count);
    for (let i = 0; i < count; i++) {
      const names = r.u32("name count");
      checkCount(names, MAX_CLUSTER_NODES, "holders of one id");
      r.need(names * 4, "node names");
      const list: string[] = new Array(names);
      for (let j = 0; j < names; j++) list[j] = r.string(MAX_NODE_NAME_BYTES, "node name");
      holders[i] = list;
    }
    endBody(r, MessageType.Locate);
    return holders;
  },
} as const satisfies MessageCodec<readonly Uint8Array[], string[][]>;

// ---------------------------------------------------------------- Nodes

export interface ClusterNodeWire {
  name: string;
  /** HOST:PORT other stores dial. */
  transferAddress: string;
  capacityBytes: number;
  usedBytes: number;
  /** Epoch ms the node's store started. */
  startTimeMs: number;
  /** The node of the store that answered. */
  self: boolean;
}

/** Bytes of a Nodes entry without its two strings' bytes. */
const NODE_ENTRY_MIN_BYTES = 4 + 4 + 8 + 8 + 8 + 1;

/**
 * Nodes: empty → u32 count, per node: string name, string transferAddress, u64 capacityBytes, u64
 * usedBytes, f64 startTimeMs, u8 self. The live nodes of the cluster.
 */
export const NodesCodec = {
  type: MessageType.Nodes,
  ...emptyRequest(MessageType.Nodes),
  encodeReply(out: ByteWriter, requestId: number, nodes: readonly ClusterNodeWire[]): void {
    const at = beginFrame(out, MessageType.Nodes, FLAG_REPLY, requestId);
    const kept = nodes.slice(0, MAX_CLUSTER_NODES);
    out.u32(kept.length);
    for (const node of kept) {
      out.string(node.name);
      out.string(node.transferAddress);
      out.u64(node.capacityBytes);
      out.u64(node.usedBytes);
      out.f64(node.startTimeMs);
      out.u8(node.self ? 1 : 0);
    }
    endFrame(out, at);
  },
  decodeReply(r: ByteReader): ClusterNodeWire[] {
    const count = readReplyCount(r, MessageType.Nodes, undefined, NODE_ENTRY_MIN_BYTES);
    checkCount(count, MAX_CLUSTER_NODES, "nodes in a nodes reply");
    const nodes: ClusterNodeWire[] = new Array(count);
    for (let i = 0; i < count; i++) {
      nodes[i] = {
        name: r.string(MAX_NODE_NAME_BYTES, "node name"),
        transferAddress: r.string(MAX_TRANSFER_ADDRESS_BYTES, "transfer address"),
        capacityBytes: r.u64("capacity"),
        usedBytes: r.u64("used"),
        startTimeMs: r.f64("start time"),
        self: r.u8("self") === 1,
      };
    }
    endBody(r, MessageType.Nodes);
    return nodes;
  },
} as const satisfies MessageCodec<void, ClusterNodeWire[]>;
