import type { ByteWriter } from "../bytes.ts";
import { emptyReply, emptyRequest, type MessageCodec, type Specialised } from "./codec.ts";
import { writeEmptyFrame } from "./fields.ts";
import { MessageType } from "./message-type.ts";

/**
 * PinsReleased: empty → empty. A client unpinned an object it had pinned through the shared directory
 * while the store was waiting for that pin to go (the entry was REMOVING): the store scans the pin tables
 * again now instead of on its timer. Sent with request id 0 (no reply); a request id other than 0 gets the
 * empty reply.
 */
export const PinsReleasedCodec = {
  type: MessageType.PinsReleased,
  ...emptyRequest(MessageType.PinsReleased),
  /** The client's form: request id 0, no reply wanted. */
  encodeRequestNoReply(out: ByteWriter): void {
    writeEmptyFrame(out, MessageType.PinsReleased, 0, 0);
  },
  ...emptyReply(MessageType.PinsReleased),
} as const satisfies MessageCodec<void, void> & Specialised;
