import assert from "node:assert/strict";
import { test } from "node:test";
import { EcgXmlError } from "./errors.ts";
import { decodeXli, lzwDecompress, restorePhilipsLimbLeads } from "./xli.ts";
import { concatBytes, lzwEncode, philipsResiduals, synthetic12, xliChunk } from "./xml-test-support.ts";

const ascii = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1");

test("LZW: a hand-checked stream decodes (codes 65 66 256 258 1023, incl. the KwKwK case)", () => {
  // 0001000001 0001000010 0100000000 0100000010 1111111111 + 6 zero bits of padding
  const stream = Uint8Array.of(0x10, 0x44, 0x24, 0x01, 0x02, 0xff, 0xc0);
  assert.equal(ascii(lzwDecompress(stream, 10, 100)), "ABABABA");
});

test("LZW: the stream ends at the end code, or when fewer than 10 bits remain", () => {
  // Same codes without the end marker: 40 bits = 5 bytes exactly.
  assert.equal(ascii(lzwDecompress(Uint8Array.of(0x10, 0x44, 0x24, 0x01, 0x02), 10, 100)), "ABABABA");
  // A trailing byte after the end marker is not read as data.
  assert.equal(
    ascii(lzwDecompress(Uint8Array.of(0x10, 0x44, 0x24, 0x01, 0x02, 0xff, 0xc0, 0x41), 10, 100)),
    "ABABABA",
  );
  assert.equal(lzwDecompress(new Uint8Array(0), 10, 100).length, 0);
});

test("LZW: the test encoder and the decoder agree on long, repetitive and random input", () => {
  const inputs = [
    new Uint8Array(20_000), // fills the 1023-entry dictionary, then keeps going without it growing
    Uint8Array.from({ length: 5000 }, (_, k) => (k * 7919) % 251),
    Uint8Array.from({ length: 3000 }, (_, k) => (k % 17 < 3 ? 255 : k & 3)),
  ];
  for (const input of inputs) assert.deepEqual(lzwDecompress(lzwEncode(input), 10, input.length), input);
});

test("LZW: a code used before it is defined is ECG_XML_XLI_CORRUPT", () => {
  // 0001000001 then 1000000000 (512: only 256 could be next)
  const stream = Uint8Array.of(0x10, 0x60, 0x00);
  assert.throws(() => lzwDecompress(stream, 10, 100), { code: "ECG_XML_XLI_CORRUPT" });
});

test("LZW: output beyond the allowed size is refused (decompression bomb)", () => {
  const bomb = lzwEncode(new Uint8Array(100_000));
  assert.ok(bomb.length < 2000);
  assert.throws(
    () => lzwDecompress(bomb, 10, 10_000),
    (error: unknown) => {
      assert.ok(error instanceof EcgXmlError);
      assert.equal(error.code, "ECG_XML_XLI_CORRUPT");
      return true;
    },
  );
});

test("XLI: chunks round-trip through the second-difference coding and the byte planes", () => {
  const leads = [...synthetic12(1500, 500).values()];
  const bytes = concatBytes(leads.map(xliChunk));
  const decoded = decodeXli(bytes, leads.length, 1500);
  assert.equal(decoded.length, 12);
  for (const [k, samples] of decoded.entries()) assert.deepEqual(samples, leads[k]);
});

test("XLI: only the declared leads are decoded; missing or overlong chunks are corrupt", () => {
  const leads = [...synthetic12(600, 500).values()];
  const bytes = concatBytes(leads.map(xliChunk));
  assert.equal(decodeXli(bytes, 3, 600).length, 3);
  assert.throws(() => decodeXli(bytes.subarray(0, bytes.length - 5), 12, 600), {
    code: "ECG_XML_XLI_CORRUPT",
  });
  const lying = bytes.slice();
  new DataView(lying.buffer).setInt32(0, 1_000_000, true);
  assert.throws(() => decodeXli(lying, 1, 600), /declares 1000000 bytes/);
});

test("restorePhilipsLimbLeads undoes the residual form, halving toward zero", () => {
  const truth = new Map([
    ["I", Int32Array.of(-9, 3, -1, 100)],
    ["II", Int32Array.of(-17, 4, -2, 300)],
    ["III", Int32Array.of(-7, 1, -1, 201)],
    ["aVR", Int32Array.of(13, -4, 2, -200)],
    ["aVL", Int32Array.of(-1, 1, 0, -50)],
    ["aVF", Int32Array.of(-12, 2, -1, 250)],
  ]);
  const stored = philipsResiduals(truth);
  // Hand check, sample 0: III = II − I − r3 → r3 = −17 + 9 + 7 = −1;
  // aVR = −rR − trunc((I + II)/2) = −rR − trunc(−13) → rR = −13 + 13 = 0.
  assert.equal(stored.get("III")?.[0], -1);
  assert.equal(stored.get("aVR")?.[0], 0);
  restorePhilipsLimbLeads(stored);
  for (const [name, samples] of truth) assert.deepEqual(stored.get(name), samples, name);
});

test("restorePhilipsLimbLeads does nothing without leads I and II", () => {
  const only = new Map([["III", Int32Array.of(5)]]);
  restorePhilipsLimbLeads(only);
  assert.deepEqual(only.get("III"), Int32Array.of(5));
});
