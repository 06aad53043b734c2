import assert from "node:assert/strict";
import { test } from "node:test";
import { ByteWindow, ByteWriter } from "./bytes.ts";
import { SCP_ERROR_CODES } from "./errors.ts";
import { DEFAULT_HUFFMAN_TABLE, decodeHuffman, encodeDefaultHuffman, readHuffmanCoding } from "./huffman.ts";
import { seededRandom } from "./test-support.ts";

/** Packs a string of 0/1 into bytes, MSB first, zero-padded. */
function bits(pattern: string): Uint8Array {
  const clean = pattern.replace(/\s/g, "");
  const bytes = new Uint8Array(Math.ceil(clean.length / 8));
  for (let index = 0; index < clean.length; index++)
    if (clean[index] === "1") bytes[index >> 3]! |= 0x80 >> (index & 7);
  return bytes;
}

test("the default table encodes as the standard lists it", () => {
  // 0 → 0; ±1 → 10s; ±2 → 110s; ±8 → eight ones, 0, sign; 8-bit escape 1111111110; 16-bit 1111111111.
  assert.deepEqual(encodeDefaultHuffman([0, 1, -1, 2]), bits("0 100 101 1100"));
  assert.deepEqual(encodeDefaultHuffman([8, -8]), bits("1111111100 1111111101"));
  assert.deepEqual(encodeDefaultHuffman([9, -128]), bits("1111111110 00001001 1111111110 10000000"));
  assert.deepEqual(encodeDefaultHuffman([200]), bits("1111111111 0000000011001000"));
  assert.deepEqual(encodeDefaultHuffman([-32768]), bits("1111111111 1000000000000000"));
  assert.equal(DEFAULT_HUFFMAN_TABLE.length, 19);
});

test("default table round trip over the whole 16-bit range, escapes included", () => {
  const random = seededRandom(7);
  const values = [0, 1, -1, 8, -8, 9, -9, 127, -128, 128, -129, 32767, -32768];
  for (let index = 0; index < 2000; index++) {
    const magnitude = [10, 200, 40000][index % 3] ?? 10;
    values.push(Math.max(-32768, Math.min(32767, Math.round((random() - 0.5) * magnitude))) || 0);
  }
  const decoded = decodeHuffman(encodeDefaultHuffman(values), [DEFAULT_HUFFMAN_TABLE], values.length);
  assert.deepEqual([...decoded], values);
});

test("decoding stops where the bits end, returning what was complete", () => {
  const encoded = encodeDefaultHuffman([300, 300, 300]); // 26 bits each
  const cut = encoded.subarray(0, 8); // 64 bits: two whole values and part of the third
  assert.deepEqual([...decodeHuffman(cut, [DEFAULT_HUFFMAN_TABLE], 3)], [300, 300]);
});

test("values beyond 16 bits cannot be encoded with the default table", () => {
  assert.throws(() => encodeDefaultHuffman([40000]), { code: SCP_ERROR_CODES.cannotEncode });
});

/** Section 2 body with tables of [prefixBits, totalBits, mode, value, prefix as read]. */
function section2(tables: Array<Array<[number, number, number, number, string]>>): ByteWindow {
  const writer = new ByteWriter().u16(tables.length);
  for (const table of tables) {
    writer.u16(table.length);
    for (const [prefixBits, totalBits, mode, value, prefix] of table) {
      // SCP stores the prefix bit-reversed: the first bit read is the least significant.
      const stored = [...prefix].reverse().reduce((sum, bit) => sum * 2 + Number(bit), 0);
      writer.u8(prefixBits).u8(totalBits).u8(mode).i16(value).u32(stored);
    }
  }
  const bytes = writer.toBytes();
  return new ByteWindow(bytes, 0, bytes.length, "section 2");
}

test("section 2 tables: bit-reversed prefixes, values with extra bits, and a switch to another table", () => {
  const coding = readHuffmanCoding(
    section2([
      [
        [1, 1, 1, 0, "0"],
        [2, 2, 1, 5, "10"],
        [3, 11, 1, 0, "110"], // 8 extra bits, two's complement
        [3, 3, 0, 2, "111"], // switch to table 2
      ],
      [
        [1, 1, 1, 7, "1"],
        [2, 2, 0, 1, "01"], // back to table 1
        [2, 2, 1, -7, "00"],
      ],
    ]),
  );
  assert.equal(coding.kind, "tables");
  if (coding.kind !== "tables") return;
  const data = bits("10 0 110 11111101 111 1 00 01 10");
  assert.deepEqual([...decodeHuffman(data, coding.tables, 6)], [5, 0, -3, 7, -7, 5]);
});

test("section 2 markers: 19999 is the default table, 0 means no Huffman coding", () => {
  const window = (value: number) => {
    const bytes = new ByteWriter().u16(value).toBytes();
    return new ByteWindow(bytes, 0, bytes.length, "section 2");
  };
  assert.deepEqual(readHuffmanCoding(window(19999)), { kind: "default" });
  assert.deepEqual(readHuffmanCoding(window(0)), { kind: "none" });
});

test("a table where one code begins another is refused, not misread", () => {
  const coding = readHuffmanCoding(
    section2([
      [
        [1, 1, 1, 0, "1"],
        [2, 2, 1, 1, "10"],
      ],
    ]),
  );
  assert.equal(coding.kind, "tables");
  if (coding.kind !== "tables") return;
  assert.throws(() => decodeHuffman(bits("1"), coding.tables, 1), { code: SCP_ERROR_CODES.malformed });
});

test("a table count larger than section 2 holds is refused before anything is allocated", () => {
  const bytes = new ByteWriter().u16(1).u16(60000).toBytes();
  assert.throws(() => readHuffmanCoding(new ByteWindow(bytes, 0, bytes.length, "section 2")), {
    code: SCP_ERROR_CODES.truncated,
  });
});
