/**
 * Decoding of DICOM text values (PS3.5 6.1) to Unicode: the Specific Character Set (0008,0005),
 * ISO 2022 code extensions with escape sequences (PS3.5 6.1.2.5, Annex J for Chinese), and the
 * undeclared GBK that many modalities in China send.
 */

import { TextDecoder } from "node:util";

const decoders = new Map<string, TextDecoder>();

function decoder(label: string): TextDecoder {
  let found = decoders.get(label);
  if (!found) {
    found = new TextDecoder(label);
    decoders.set(label, found);
  }
  return found;
}

/** PS3.3 C.12.1.1.2, Tables C.12-2 to C.12-5: Defined Terms to WHATWG encoding labels. */
const SINGLE_BYTE_OR_UNICODE: Record<string, string> = {
  "ISO_IR 6": "latin1",
  "ISO_IR 100": "latin1",
  "ISO_IR 101": "iso-8859-2",
  "ISO_IR 109": "iso-8859-3",
  "ISO_IR 110": "iso-8859-4",
  "ISO_IR 144": "iso-8859-5",
  "ISO_IR 127": "iso-8859-6",
  "ISO_IR 126": "iso-8859-7",
  "ISO_IR 138": "iso-8859-8",
  "ISO_IR 148": "iso-8859-9",
  "ISO_IR 166": "windows-874",
  "ISO_IR 13": "shift_jis",
  "ISO_IR 192": "utf-8",
  GB18030: "gb18030",
  GBK: "gbk",
};

/** G1 sets designated by ISO 2022 escape sequences (PS3.3 Table C.12-3/C.12-4), as EUC decoders. */
const G1_ESCAPES: Record<string, string> = {
  "\x1b-A": "latin1", // ISO 2022 IR 100
  "\x1b-B": "iso-8859-2", // ISO 2022 IR 101
  "\x1b-L": "iso-8859-5", // ISO 2022 IR 144
  "\x1b-F": "iso-8859-7", // ISO 2022 IR 126
  "\x1b$)A": "gb18030", // ISO 2022 IR 58 (GB 2312, EUC-CN coded)
  "\x1b$)C": "euc-kr", // ISO 2022 IR 149 (KS X 1001)
};

/** Escapes designating Japanese sets into G0 (ISO 2022 IR 87, IR 159, IR 13 romaji). */
const JAPANESE_G0_ESCAPES = ["\x1b$B", "\x1b$@", "\x1b$(D", "\x1b(J"];

/** The G1 set a first value of (0008,0005) designates before any escape (PS3.5 6.1.2.5.3). */
const INITIAL_G1: Record<string, string> = {
  "ISO 2022 IR 100": "latin1",
  "ISO 2022 IR 101": "iso-8859-2",
  "ISO 2022 IR 144": "iso-8859-5",
  "ISO 2022 IR 126": "iso-8859-7",
  "ISO 2022 IR 58": "gb18030",
  "ISO 2022 IR 149": "euc-kr",
};

/** Split the raw (0008,0005) value into its terms; empty array when absent. */
export function parseSpecificCharacterSet(raw: Uint8Array | undefined): string[] {
  if (!raw) return [];
  return decoder("latin1")
    .decode(raw)
    .split("\\")
    .map((term) => term.trim());
}

/**
 * Decode a text value (SH, LO, PN, ST, LT, UT, UC) under the given Specific Character Set terms.
 * Without a declared character set the standard's default is ASCII, but GBK sent undeclared is common
 * on Chinese modalities: non-ASCII bytes are read as UTF-8 when valid, else as GB18030 (a superset of
 * GBK and GB 2312).
 */
export function decodeText(bytes: Uint8Array, characterSet: readonly string[]): string {
  const first = characterSet[0] ?? "";
  if (characterSet.some((term) => term.startsWith("ISO 2022"))) return decodeIso2022(bytes, first);
  const label = SINGLE_BYTE_OR_UNICODE[first];
  if (label && first !== "ISO_IR 6") return decoder(label).decode(bytes);
  if (bytes.every((byte) => byte < 0x80)) return decoder("latin1").decode(bytes);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return decoder("gb18030").decode(bytes);
  }
}

/**
 * PS3.5 6.1.2.5: ISO 2022 code extension. G0 stays ASCII for the sets we decode; each escape
 * sequence (re)designates G1, and the bytes up to the next escape are decoded with that set's EUC
 * decoder (which reads ASCII bytes as ASCII). Japanese G0 sets (IR 87, IR 159) go to the ISO-2022-JP
 * decoder whole.
 */
function decodeIso2022(bytes: Uint8Array, firstTerm: string): string {
  const text = decoder("latin1").decode(bytes);
  if (JAPANESE_G0_ESCAPES.some((sequence) => text.includes(sequence)))
    return decoder("iso-2022-jp").decode(bytes);
  let g1 = INITIAL_G1[firstTerm] ?? "latin1";
  let out = "";
  let segmentStart = 0;
  const flush = (end: number) => {
    if (end > segmentStart) out += decoder(g1).decode(bytes.subarray(segmentStart, end));
  };
  for (let index = 0; index < bytes.length; index += 1) {
    if (bytes[index] !== 0x1b) continue;
    flush(index);
    // ISO 2022: ESC, intermediate bytes 0x20–0x2F, one final byte 0x30–0x7E.
    let end = index + 1;
    while (end < bytes.length && (bytes[end] ?? 0) >= 0x20 && (bytes[end] ?? 0) <= 0x2f) end += 1;
    end = Math.min(end + 1, bytes.length);
    g1 = G1_ESCAPES[text.slice(index, end)] ?? g1;
    index = end - 1;
    segmentStart = end;
  }
  flush(bytes.length);
  return out;
}
