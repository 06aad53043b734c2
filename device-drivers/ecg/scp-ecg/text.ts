/**
 * Text in SCP-ECG (section 1 fields, statements): zero-terminated strings in the character set the
 * acquiring device's language support code names (section 1 tag 14, byte 16; EN 1064 Table 11).
 * Code 0 means "ASCII only" and 1 Latin-1 — but Chinese carts write GB 2312/GBK under either, so
 * those two go through the same heuristic the DICOM side uses for undeclared text
 * (common/dicom-text.ts: ASCII, else valid UTF-8, else GBK when it looks like GBK, else Latin-1).
 *
 * Our encoder writes UTF-8 under code 0x07 (ISO/IEC 10646) by default, or GBK under 0x27 (GB 2312,
 * of which GBK is the superset carts actually use) to play a Chinese cart.
 */
import { TextDecoder } from "node:util";
import { decodeUndeclared } from "../../../common/dicom-text.ts";

/** Language support codes with a character set of their own (WHATWG labels). */
const DECLARED: Record<number, string> = {
  3: "iso-8859-2",
  11: "iso-8859-4",
  19: "iso-8859-5",
  27: "iso-8859-6",
  35: "iso-8859-7",
  43: "iso-8859-8",
  51: "windows-874", // ISO 8859-11 (Thai); windows-874 is its superset
  59: "iso-8859-15",
  15: "euc-jp", // JIS X 0201
  23: "euc-jp", // JIS X 0208
  31: "euc-jp", // JIS X 0212
  39: "gb18030", // GB 2312; GB 18030 decodes it and the GBK carts send under it
  47: "euc-kr", // KS C 5601
};

export const LANGUAGE_ASCII = 0x00;
export const LANGUAGE_ISO_10646 = 0x07;
export const LANGUAGE_GB2312 = 0x27;

const decoders = new Map<string, TextDecoder>();

function decoderFor(label: string): TextDecoder {
  let found = decoders.get(label);
  if (!found) {
    found = new TextDecoder(label);
    decoders.set(label, found);
  }
  return found;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** A decoder for zero-terminated text under a language support code (undefined: none given). */
export function textDecoderFor(languageCode: number | undefined): (bytes: Uint8Array) => string {
  const label = languageCode === undefined ? undefined : DECLARED[languageCode];
  if (languageCode === LANGUAGE_ISO_10646) return decodeIso10646;
  if (!label) return (bytes) => decodeUndeclared(untilNul(bytes)).trim();
  const decoder = decoderFor(label);
  return (bytes) => decoder.decode(untilNul(bytes)).trim();
}

function untilNul(bytes: Uint8Array): Uint8Array {
  const end = bytes.indexOf(0);
  return end < 0 ? bytes : bytes.subarray(0, end);
}

/** ISO 10646: UTF-8 (what writers use today) unless the bytes only make sense as UTF-16LE (UCS-2). */
function decodeIso10646(bytes: Uint8Array): string {
  const narrow = untilNul(bytes);
  const looksWide = narrow.length < bytes.length - 1 && bytes[narrow.length + 1] !== 0;
  if (!looksWide) {
    try {
      return strictUtf8.decode(narrow).trim();
    } catch {
      // not UTF-8: fall through to UTF-16
    }
  }
  let end = bytes.length - (bytes.length % 2);
  for (let index = 0; index + 1 < bytes.length; index += 2) {
    if (bytes[index] === 0 && bytes[index + 1] === 0) {
      end = index;
      break;
    }
  }
  return decoderFor("utf-16le").decode(bytes.subarray(0, end)).trim();
}

export type ScpCharacterSet = "utf-8" | "gbk";

/** The language support code our encoder declares for text written in `characterSet`. */
export function languageCodeFor(characterSet: ScpCharacterSet, anyNonAscii: boolean): number {
  if (!anyNonAscii) return LANGUAGE_ASCII;
  return characterSet === "gbk" ? LANGUAGE_GB2312 : LANGUAGE_ISO_10646;
}

const utf8 = new TextEncoder();

/**
 * Text as zero-terminated bytes in `characterSet`, at most `maxBytes` long terminator included
 * (cut at a character boundary). Characters GBK cannot hold become "?".
 */
export function encodeText(text: string, characterSet: ScpCharacterSet, maxBytes: number): Uint8Array {
  const pieces: number[] = [];
  for (const character of text) {
    const bytes = characterSet === "gbk" ? gbkBytes(character) : [...utf8.encode(character)];
    if (pieces.length + bytes.length > maxBytes - 1) break;
    pieces.push(...bytes);
  }
  pieces.push(0);
  return Uint8Array.from(pieces);
}

let gbkTable: Map<string, [number, number]> | undefined;

/** GBK bytes of one character, from a table built once by decoding every two-byte GBK code. */
function gbkBytes(character: string): number[] {
  const code = character.codePointAt(0) ?? 0x3f;
  if (code < 0x80) return [code];
  if (!gbkTable) gbkTable = buildGbkTable();
  return gbkTable.get(character) ?? [0x3f];
}

function buildGbkTable(): Map<string, [number, number]> {
  const pairs: Array<[number, number]> = [];
  for (let lead = 0x81; lead <= 0xfe; lead++) {
    for (let trail = 0x40; trail <= 0xfe; trail++) if (trail !== 0x7f) pairs.push([lead, trail]);
  }
  // One decode of every pair, each followed by a newline (no GBK pair decodes to one), then split.
  const joined = new Uint8Array(pairs.length * 3);
  pairs.forEach(([lead, trail], index) => {
    joined[index * 3] = lead;
    joined[index * 3 + 1] = trail;
    joined[index * 3 + 2] = 0x0a;
  });
  const characters = decoderFor("gb18030").decode(joined).split("\n");
  const table = new Map<string, [number, number]>();
  pairs.forEach((pair, index) => {
    const character = characters[index] ?? "";
    // The first code wins: GB 2312's own code before any compatibility duplicate.
    if ([...character].length === 1 && character !== "\ufffd" && !table.has(character))
      table.set(character, pair);
  });
  return table;
}
