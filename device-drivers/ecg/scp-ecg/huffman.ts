/**
 * SCP-ECG Huffman coding (EN 1064 5.5 and Annex C): section 2 either names the default table
 * (table count 19999) or lists tables of codes — prefix length, total length, mode (1 = a value,
 * 0 = switch to table N), base value, and the prefix bits stored bit-reversed in a 4-byte field.
 * When the total length exceeds the prefix, the extra bits carry the value itself, two's
 * complement, MSB first. Codes are read MSB first from each byte; each lead's data starts on a
 * byte boundary with table 1 selected.
 *
 * The default table: 0 → "0"; ±n for n = 1…8 → n ones, a zero, a sign bit (1 = negative);
 * nine ones then 0 → an 8-bit value follows; ten ones → a 16-bit value follows.
 */
import type { ByteWindow } from "./bytes.ts";
import { SCP_ERROR_CODES, ScpEcgError } from "./errors.ts";

export interface HuffmanCode {
  prefixBits: number;
  totalBits: number;
  /** Mode 0: the code switches to table `value` (1-based) instead of producing a value. */
  switchesTable: boolean;
  value: number;
  /** The prefix, first bit read as the most significant bit. */
  code: number;
}

export type HuffmanCoding =
  | { kind: "default" }
  | { kind: "none" }
  | { kind: "tables"; tables: HuffmanCode[][] };

/** Section 2's table count that means "the default table of the standard". */
export const DEFAULT_TABLE_MARKER = 19999;

export const DEFAULT_HUFFMAN_TABLE: readonly HuffmanCode[] = buildDefaultTable();

function buildDefaultTable(): HuffmanCode[] {
  const codes: HuffmanCode[] = [{ prefixBits: 1, totalBits: 1, switchesTable: false, value: 0, code: 0 }];
  for (let magnitude = 1; magnitude <= 8; magnitude++) {
    const ones = (1 << magnitude) - 1;
    for (const sign of [0, 1]) {
      const prefixBits = magnitude + 2;
      const code = (ones << 2) | sign;
      codes.push({
        prefixBits,
        totalBits: prefixBits,
        switchesTable: false,
        value: sign ? -magnitude : magnitude,
        code,
      });
    }
  }
  codes.push({ prefixBits: 10, totalBits: 18, switchesTable: false, value: 0, code: 0b1111111110 });
  codes.push({ prefixBits: 10, totalBits: 26, switchesTable: false, value: 0, code: 0b1111111111 });
  return codes;
}

/** Reads section 2's body. */
export function readHuffmanCoding(body: ByteWindow): HuffmanCoding {
  const tableCount = body.u16(0, "number of Huffman tables");
  if (tableCount === DEFAULT_TABLE_MARKER) return { kind: "default" };
  if (tableCount === 0) return { kind: "none" };
  const tables: HuffmanCode[][] = [];
  let offset = 2;
  for (let table = 1; table <= tableCount; table++) {
    const codeCount = body.u16(offset, `number of codes in Huffman table ${table}`);
    offset += 2;
    // Checked before anything is allocated: the count is only as good as the bytes behind it.
    body.require(offset, codeCount * 9, `Huffman table ${table} (${codeCount} codes of 9 bytes)`);
    const codes: HuffmanCode[] = [];
    for (let index = 0; index < codeCount; index++, offset += 9) {
      const prefixBits = body.u8(offset, "prefix length");
      const totalBits = body.u8(offset + 1, "code length");
      const mode = body.u8(offset + 2, "table mode");
      const value = body.i16(offset + 3, "base value");
      const stored = body.u32(offset + 5, "base code");
      if (
        prefixBits < 1 ||
        prefixBits > 32 ||
        totalBits < prefixBits ||
        totalBits - prefixBits > 31 ||
        mode > 1
      ) {
        throw new ScpEcgError(
          SCP_ERROR_CODES.unsupported,
          `Huffman table ${table} code ${index + 1}: prefix ${prefixBits} bits, total ${totalBits} bits, mode ${mode} is not a usable code`,
        );
      }
      if (mode === 0 && (value < 1 || value > tableCount)) {
        throw new ScpEcgError(
          SCP_ERROR_CODES.malformed,
          `Huffman table ${table} code ${index + 1} switches to table ${value}, but there are ${tableCount}`,
        );
      }
      codes.push({
        prefixBits,
        totalBits,
        switchesTable: mode === 0,
        value,
        code: reverseBits(stored, prefixBits),
      });
    }
    tables.push(codes);
  }
  return { kind: "tables", tables };
}

/** SCP stores the prefix with the first-read bit as the least significant bit. */
function reverseBits(stored: number, bitCount: number): number {
  let reversed = 0;
  let rest = stored;
  for (let bit = 0; bit < bitCount; bit++) {
    reversed = reversed * 2 + (rest & 1);
    rest = Math.floor(rest / 2);
  }
  return reversed;
}

/** A binary trie per table: node → child for bit 0 / bit 1, or the code it completes. */
interface DecodeTrie {
  zero: Int32Array;
  one: Int32Array;
  leaf: Int32Array;
  codes: HuffmanCode[];
}

const trieCache = new WeakMap<readonly HuffmanCode[], DecodeTrie>();

function trieFor(codes: readonly HuffmanCode[], tableNumber: number): DecodeTrie {
  const cached = trieCache.get(codes);
  if (cached) return cached;
  const zero: number[] = [-1];
  const one: number[] = [-1];
  const leaf: number[] = [-1];
  codes.forEach((entry, codeIndex) => {
    let node = 0;
    for (let bit = entry.prefixBits - 1; bit >= 0; bit--) {
      if ((leaf[node] ?? -1) >= 0) notPrefixFree(tableNumber);
      const branch = Math.floor(entry.code / 2 ** bit) % 2 === 1 ? one : zero;
      let next = branch[node] ?? -1;
      if (next < 0) {
        next = zero.length;
        zero.push(-1);
        one.push(-1);
        leaf.push(-1);
        branch[node] = next;
      }
      node = next;
    }
    if ((leaf[node] ?? -1) >= 0 || (zero[node] ?? -1) >= 0 || (one[node] ?? -1) >= 0)
      notPrefixFree(tableNumber);
    leaf[node] = codeIndex;
  });
  const trie = {
    zero: Int32Array.from(zero),
    one: Int32Array.from(one),
    leaf: Int32Array.from(leaf),
    codes: [...codes],
  };
  trieCache.set(codes, trie);
  return trie;
}

function notPrefixFree(tableNumber: number): never {
  throw new ScpEcgError(
    SCP_ERROR_CODES.malformed,
    `Huffman table ${tableNumber}: one code is the beginning of another, so the data cannot be decoded`,
  );
}

/**
 * Decodes up to `count` values from one lead's bytes. Returns fewer when the bits run out (or hit
 * a pattern no code matches), so the caller can say how much of the lead was there.
 */
export function decodeHuffman(
  data: Uint8Array,
  tables: readonly (readonly HuffmanCode[])[],
  count: number,
): Int32Array {
  const tries = tables.map((codes, index) => trieFor(codes, index + 1));
  const values = new Int32Array(count);
  const totalBits = data.length * 8;
  let position = 0;
  let produced = 0;
  let trie = tries[0];
  while (trie && produced < count) {
    let node = 0;
    let codeIndex = -1;
    while (codeIndex < 0) {
      if (position >= totalBits) return values.subarray(0, produced);
      const bit = ((data[position >> 3] ?? 0) >> (7 - (position & 7))) & 1;
      position++;
      node = (bit ? trie.one[node] : trie.zero[node]) ?? -1;
      if (node < 0) return values.subarray(0, produced);
      codeIndex = trie.leaf[node] ?? -1;
    }
    const entry = trie.codes[codeIndex];
    if (!entry) return values.subarray(0, produced);
    const extraBits = entry.totalBits - entry.prefixBits;
    let value = entry.value;
    if (extraBits > 0) {
      if (position + extraBits > totalBits) return values.subarray(0, produced);
      let raw = 0;
      for (let bit = 0; bit < extraBits; bit++, position++) {
        raw = raw * 2 + (((data[position >> 3] ?? 0) >> (7 - (position & 7))) & 1);
      }
      // Two's complement over `extraBits` bits, added to the code's base value (0 in the default table).
      value += raw >= 2 ** (extraBits - 1) ? raw - 2 ** extraBits : raw;
    }
    if (entry.switchesTable) {
      trie = tries[entry.value - 1];
      continue;
    }
    values[produced++] = value;
  }
  return values.subarray(0, produced);
}

/** Encodes values with the default table. Every value must fit in 16 bits, two's complement. */
export function encodeDefaultHuffman(values: ArrayLike<number>): Uint8Array {
  const writer = new BitWriter(Math.ceil(values.length / 2) + 16);
  for (let index = 0; index < values.length; index++) {
    const value = values[index] ?? 0;
    const magnitude = Math.abs(value);
    if (value === 0) {
      writer.write(0, 1);
    } else if (magnitude <= 8) {
      writer.write((((1 << magnitude) - 1) << 2) | (value < 0 ? 1 : 0), magnitude + 2);
    } else if (value >= -128 && value <= 127) {
      writer.write(0b1111111110, 10);
      writer.write(value & 0xff, 8);
    } else if (value >= -32768 && value <= 32767) {
      writer.write(0b1111111111, 10);
      writer.write(value & 0xffff, 16);
    } else {
      throw new ScpEcgError(
        SCP_ERROR_CODES.cannotEncode,
        `value ${value} does not fit the default Huffman table (16 bits)`,
      );
    }
  }
  return writer.toBytes();
}

/** Bits appended MSB first; the last byte is padded with zero bits. */
class BitWriter {
  private buffer: Uint8Array;
  private bitLength = 0;

  constructor(initialBytes: number) {
    this.buffer = new Uint8Array(Math.max(16, initialBytes));
  }

  write(bits: number, count: number): void {
    if ((this.bitLength + count + 7) >> 3 > this.buffer.length) {
      const grown = new Uint8Array(this.buffer.length * 2 + 8);
      grown.set(this.buffer);
      this.buffer = grown;
    }
    for (let bit = count - 1; bit >= 0; bit--) {
      if ((bits >>> bit) & 1) {
        const index = this.bitLength >> 3;
        this.buffer[index] = (this.buffer[index] ?? 0) | (0x80 >> (this.bitLength & 7));
      }
      this.bitLength++;
    }
  }

  toBytes(): Uint8Array {
    return this.buffer.slice(0, (this.bitLength + 7) >> 3);
  }
}
