import { expect, test } from "bun:test";
import { inspect } from "node:util";
import { ObjectID } from "../../src/client/index.ts";

test("ObjectID takes exactly 20 bytes", () => {
  const id = new ObjectID(new Uint8Array(20).fill(0x61));
  expect(id.binary()).toEqual(new Uint8Array(20).fill(0x61));
  expect(() => new ObjectID(new Uint8Array(19))).toThrow(TypeError);
  expect(() => new ObjectID(new Uint8Array(21))).toThrow(TypeError);
  expect(new ObjectID("a".repeat(20)).equals(id)).toBe(true);
});

test("ObjectID prints as in Plasma", () => {
  const id = new ObjectID("a".repeat(20));
  expect(id.toString()).toBe(`ObjectID(${"61".repeat(20)})`);
  expect(inspect(id)).toBe(`ObjectID(${"61".repeat(20)})`);
  expect(`${id}`).toBe(`ObjectID(${"61".repeat(20)})`);
});

test("ObjectID hex round trip, random ids differ, binary() is a copy", () => {
  const a = ObjectID.fromRandom();
  const b = ObjectID.fromRandom();
  expect(a.equals(b)).toBe(false);
  expect(ObjectID.fromHex(a.hex()).equals(a)).toBe(true);
  expect(ObjectID.fromHex(a.hex().toUpperCase()).equals(a)).toBe(true);
  expect(() => ObjectID.fromHex("abc")).toThrow(TypeError);
  expect(() => ObjectID.fromHex("zz".repeat(20))).toThrow(TypeError);
  const copy = a.binary();
  copy[0] = (copy[0] as number) ^ 0xff;
  expect(a.binary()[0]).not.toBe(copy[0]);
});
