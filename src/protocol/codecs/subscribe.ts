import type { ByteReader, ByteWriter } from "../bytes.ts";
import { beginFrame, endFrame, FLAG_REPLY } from "../frame.ts";
import { emptyReply, emptyRequest, type MessageCodec } from "./codec.ts";
import { endBody, readReplyCount } from "./fields.ts";
import { NOTES_PER_FRAME, NOTIFICATION_BYTES } from "./layout.ts";
import { MessageType } from "./message-type.ts";

/** Subscribe: empty → empty, then Notification frames with the subscribe's request id. */
export const SubscribeCodec = {
  type: MessageType.Subscribe,
  ...emptyRequest(MessageType.Subscribe),
  ...emptyReply(MessageType.Subscribe),
} as const satisfies MessageCodec<void, void>;

export interface NotificationWire {
  id: Uint8Array;
  dataSize: number;
  metadataSize: number;
  deleted: boolean;
}

function writeNotificationFrame(
  out: ByteWriter,
  subscribeRequestId: number,
  notes: readonly NotificationWire[],
  start: number,
  end: number,
): void {
  const at = beginFrame(out, MessageType.Notification, FLAG_REPLY, subscribeRequestId);
  out.u32(end - start);
  for (let i = start; i < end; i++) {
    const n = notes[i] as NotificationWire;
    out.id(n.id);
    out.u64(n.dataSize);
    out.u32(n.metadataSize);
    out.u8(n.deleted ? 1 : 0);
  }
  endFrame(out, at);
}

/**
 * Notification (store → subscriber, flags REPLY): u32 count, then NOTIFICATION_BYTES per note, at most
 * NOTES_PER_FRAME notes per frame; a larger batch (the first one, of the objects already sealed) goes out
 * as several frames, read as one after another.
 */
export const NotificationCodec = {
  type: MessageType.Notification,
  /** The notes, in as many frames as they need (one, with count 0, for none). */
  encode(out: ByteWriter, subscribeRequestId: number, notes: readonly NotificationWire[]): void {
    let start = 0;
    do {
      const end = Math.min(start + NOTES_PER_FRAME, notes.length);
      writeNotificationFrame(out, subscribeRequestId, notes, start, end);
      start = end;
    } while (start < notes.length);
  },
  /** The notes of one frame, with copies of their ids. */
  decode(r: ByteReader): NotificationWire[] {
    const count = readReplyCount(r, MessageType.Notification, undefined, NOTIFICATION_BYTES);
    const notes: NotificationWire[] = new Array(count);
    for (let i = 0; i < count; i++) {
      notes[i] = {
        id: r.id().slice(),
        dataSize: r.u64("data size"),
        metadataSize: r.u32("metadata size"),
        deleted: r.u8("deleted") === 1,
      };
    }
    endBody(r, MessageType.Notification);
    return notes;
  },
} as const;
