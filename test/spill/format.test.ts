import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { SpillFormatError, type SpillFormatProblem } from "../../src/spill/errors.ts";
import {
  decodeHeader,
  encodeHeader,
  parseSpillFileName,
  SPILL_FORMAT_VERSION,
  SPILL_HEADER_BYTES,
  type SpillHeader,
  spillFileName,
  xxh64,
} from "../../src/spill/format.ts";

const header: SpillHeader = {
  id: Uint8Array.from({ length: 20 }, (_, i) => i * 7),
  dataSizeBytes: 1_048_577,
  metadataSizeBytes: 33,
  contentHash: 0x0123456789abcdefn,
};

function problemOf(bytes: Uint8Array): SpillFormatProblem {
  try {
    decodeHeader(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(SpillFormatError);
    expect((error as SpillFormatError).code).toBe("SPILL_FORMAT");
    return (error as SpillFormatError).problem;
  }
  throw new Error("the header decoded");
}

/** A header with its checksum recomputed after `edit`, so only the edited field is wrong. */
function resealed(edit: (view: DataView) => void): Uint8Array {
  const bytes = encodeHeader(header);
  const view = new DataView(bytes.buffer);
  edit(view);
  view.setBigUint64(56, xxh64(bytes.subarray(0, 56)), true);
  return bytes;
}

describe("spill header", () => {
  test("is 64 bytes: magic, version, id, sizes little-endian", () => {
    const bytes = encodeHeader(header);
    expect(bytes.length).toBe(SPILL_HEADER_BYTES);
    expect(new TextDecoder().decode(bytes.subarray(0, 8))).toBe("PLSPILL1");
    const view = new DataView(bytes.buffer);
    expect(view.getUint16(8, true)).toBe(SPILL_FORMAT_VERSION);
    expect([...bytes.subarray(12, 32)]).toEqual([...header.id]);
    expect(view.getBigUint64(32, true)).toBe(1_048_577n);
    expect(view.getUint32(40, true)).toBe(33);
    expect(view.getBigUint64(48, true)).toBe(header.contentHash);
  });

  test("round-trips any id, sizes and hash", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 20, maxLength: 20 }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: 0, max: 1024 * 1024 }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        (id, dataSizeBytes, metadataSizeBytes, contentHash) => {
          const decoded = decodeHeader(encodeHeader({ id, dataSizeBytes, metadataSizeBytes, contentHash }));
          expect(decoded).toEqual({ id, dataSizeBytes, metadataSizeBytes, contentHash });
        },
      ),
    );
  });

  test("truncated at every byte is refused as truncated", () => {
    const bytes = encodeHeader(header);
    for (let length = 0; length < SPILL_HEADER_BYTES; length++) {
      expect(problemOf(bytes.subarray(0, length))).toBe("truncated");
    }
  });

  test("a flipped bit in any header byte is refused, before sizes are trusted", () => {
    for (let at = 0; at < SPILL_HEADER_BYTES; at++) {
      for (const bit of [0x01, 0x80]) {
        const bytes = encodeHeader(header);
        bytes[at] = (bytes[at] as number) ^ bit;
        const expected = at < 8 ? "magic" : at < 10 ? "version" : "header-checksum";
        expect(`${at}: ${problemOf(bytes)}`).toBe(`${at}: ${expected}`);
      }
    }
  });

  test("another version is refused even with a valid checksum", () => {
    expect(problemOf(resealed((v) => v.setUint16(8, 2, true)))).toBe("version");
    expect(problemOf(resealed((v) => v.setUint16(8, 0, true)))).toBe("version");
  });

  test("reserved fields must be zero", () => {
    expect(problemOf(resealed((v) => v.setUint16(10, 1, true)))).toBe("reserved");
    expect(problemOf(resealed((v) => v.setUint32(44, 1, true)))).toBe("reserved");
  });

  test("sizes past the limits are refused", () => {
    const limits = { maxDataSizeBytes: 1_048_576, maxMetadataSizeBytes: 32 };
    expect(() => decodeHeader(encodeHeader(header), limits)).toThrow(SpillFormatError);
    const huge = resealed((v) => v.setBigUint64(32, 2n ** 63n, true));
    expect(problemOf(huge)).toBe("size-limit");
    expect(
      decodeHeader(encodeHeader(header), { maxDataSizeBytes: 1_048_577, maxMetadataSizeBytes: 33 }),
    ).toEqual(header);
  });

  test("misuse of encodeHeader is a TypeError or RangeError", () => {
    expect(() => encodeHeader({ ...header, id: new Uint8Array(19) })).toThrow(TypeError);
    expect(() => encodeHeader({ ...header, dataSizeBytes: -1 })).toThrow(RangeError);
    expect(() => encodeHeader({ ...header, metadataSizeBytes: 2 ** 32 })).toThrow(RangeError);
  });
});

describe("spill file names", () => {
  test("are the id's lowercase hex with .spill, and only those parse", () => {
    const name = spillFileName(header.id);
    expect(name).toBe(`${Buffer.from(header.id).toString("hex")}.spill`);
    expect(parseSpillFileName(name)).toBe(Buffer.from(header.id).toString("hex"));
    for (const other of [name.toUpperCase(), `${name}.tmp`, `x${name}`, "LOCK", `${"a".repeat(39)}.spill`]) {
      expect(parseSpillFileName(other)).toBeNull();
    }
  });
});
