import assert from "node:assert/strict";
import { test } from "node:test";
import { crcCcitt } from "./crc.ts";

test("CRC-CCITT as SCP-ECG uses it (poly 0x1021, init 0xFFFF): the catalogue check value", () => {
  // CRC-16/CCITT-FALSE of "123456789" is 0x29B1 (what Python's binascii.crc_hqx(b"123456789", 0xffff) gives).
  assert.equal(crcCcitt(new TextEncoder().encode("123456789")), 0x29b1);
  assert.equal(crcCcitt(new Uint8Array(0)), 0xffff);
});

test("CRC over a range covers exactly bytes [start, end)", () => {
  const bytes = new TextEncoder().encode("xx123456789yy");
  assert.equal(crcCcitt(bytes, 2, 11), 0x29b1);
  assert.notEqual(crcCcitt(bytes, 2, 12), 0x29b1);
});
