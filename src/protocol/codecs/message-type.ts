/** The message types of the protocol (the `type` field of a frame); layouts in docs/protocol.md. */
export const MessageType = {
  Welcome: 0,
  Hello: 1,
  Create: 2,
  CreateAndSeal: 3,
  Seal: 4,
  Abort: 5,
  Get: 6,
  GetMetadata: 7,
  Release: 8,
  Contains: 9,
  Delete: 10,
  Evict: 11,
  Hash: 12,
  List: 13,
  Subscribe: 14,
  Notification: 15,
  StoreInfo: 16,
  DebugString: 17,
  PollAdvice: 18,
  Locate: 19,
  Nodes: 20,
  /** A frame of frames (framing, not a request of its own): numbered apart from the messages. */
  Batch: 32,
  /** A client unpinned objects the store waits to free (shared directory reads). */
  PinsReleased: 24,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

const MESSAGE_TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(MessageType).map(([name, code]) => [code, name]),
);

/** The name of a message type, for error messages ("type 99" for an unknown one). */
export function messageName(type: number): string {
  return MESSAGE_TYPE_NAMES[type] ?? `type ${type}`;
}
