import type { ByteReader, ByteWriter } from "../bytes.ts";
import { errorFromWire, errorToWireCode, type PlasmaError } from "../errors.ts";
import { beginFrame, endFrame, FLAG_ERROR, FLAG_REPLY } from "../frame.ts";
import { writeTruncatedString } from "./fields.ts";
import { MAX_ERROR_MESSAGE_BYTES } from "./layout.ts";

/**
 * An error reply to any request (flags REPLY|ERROR, the request's type and id): u16 wire code, string
 * message (cut at MAX_ERROR_MESSAGE_BYTES). With request id 0 and type 0, the store's last word before it
 * closes the connection.
 */
export const ErrorReplyCodec = {
  encode(out: ByteWriter, type: number, requestId: number, error: PlasmaError): void {
    const at = beginFrame(out, type, FLAG_REPLY | FLAG_ERROR, requestId);
    out.u16(errorToWireCode(error));
    writeTruncatedString(out, error.message, MAX_ERROR_MESSAGE_BYTES);
    endFrame(out, at);
  },
  /** The typed error the reply carries (returned, not thrown). */
  decode(r: ByteReader): PlasmaError {
    const code = r.u16("error code");
    const error = errorFromWire(code, r.string(MAX_ERROR_MESSAGE_BYTES, "error message"));
    r.end("error reply");
    return error;
  },
} as const;
