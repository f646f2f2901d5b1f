import type { ByteReader, ByteWriter } from "../bytes.ts";
import { beginFrame, endFrame, FLAG_REPLY } from "../frame.ts";
import { emptyReply, emptyRequest, type MessageCodec } from "./codec.ts";
import { endBody, readReplyCount } from "./fields.ts";
import { NOTIFICATION_BYTES } from "./layout.ts";
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

/** Notification (store → subscriber, flags REPLY): u32 count, then NOTIFICATION_BYTES per note. */
export const NotificationCodec = {
  type: MessageType.Notification,
  encode(out: ByteWriter, subscribeRequestId: number, notes: readonly NotificationWire[]): void {
    const at = beginFrame(out, MessageType.Notification, FLAG_REPLY, subscribeRequestId);
    out.u32(notes.length);
    for (const n of notes) {
      out.id(n.id);
      out.u64(n.dataSize);
      out.u32(n.metadataSize);
      out.u8(n.deleted ? 1 : 0);
    }
    endFrame(out, at);
  },
  /** The notes, with copies of their ids. */
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
