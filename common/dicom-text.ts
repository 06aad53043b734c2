/**
 * Decoding of DICOM text values (PS3.5 6.1) to Unicode: the Specific Character Set (0008,0005),
 * ISO 2022 code extensions with escape sequences (PS3.5 6.1.2.5, Annex J for Chinese), and the
 * GBK that many modalities in China send undeclared or under a Latin-1 declaration. It lives in
 * common/ because both processes show text from received datasets (the box indexes what arrives,
 * the county reads the files it is sent); it only decodes: stored bytes are never re-encoded.
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

/** Options for `decodeText`. */
export interface DecodeOptions {
  /**
   * The value is a PN: under ISO 2022 the "^" and "=" delimiters also return to the initial
   * character sets (PS3.5 6.1.2.5.3), so each component group starts afresh.
   */
  personName?: boolean;
}

/**
 * Decode a text value (SH, LO, PN, ST, LT, UT, UC) under the given Specific Character Set terms.
 * UTF-8, GB18030, GBK and the single-byte sets are decoded as declared; ISO 2022 values follow their
 * escape sequences. Without a declaration, or under ISO_IR 6 / ISO_IR 100 (Latin-1) or an unknown
 * term, `decodeUndeclared` guesses, because Chinese modalities commonly send GBK that way.
 */
export function decodeText(
  bytes: Uint8Array,
  characterSet: readonly string[],
  options: DecodeOptions = {},
): string {
  const first = characterSet[0] ?? "";
  if (characterSet.some((term) => term.startsWith("ISO 2022")))
    return decodeIso2022(bytes, first, options.personName === true);
  const label = SINGLE_BYTE_OR_UNICODE[first];
  if (label && first !== "ISO_IR 6" && first !== "ISO_IR 100") return decoder(label).decode(bytes);
  return decodeUndeclared(bytes);
}

/**
 * The heuristic for bytes outside ASCII with no trustworthy declaration (none, ISO_IR 6, ISO_IR 100,
 * or an unknown term), in this order:
 * 1. ASCII only: ASCII.
 * 2. Valid UTF-8: UTF-8 (Latin-1 text is practically never valid UTF-8: an accented letter would
 *    have to be followed by a byte 0x80–0xBF, which are control codes and rare symbols in Latin-1).
 * 3. Looks like GBK: GB 18030 (a superset of GBK and GB 2312). "Looks like" means every byte
 *    ≥ 0x80 starts a GBK double-byte character (lead 0x81–0xFE, trail 0x40–0x7E or 0x80–0xFE),
 *    and at least one of them has its trail byte ≥ 0x80. All of GB 2312 (common hanzi) has both
 *    bytes ≥ 0xA1; GBK's extension has ASCII-range trails and holds name characters (镕 E946,
 *    堃 88D2, 赟 DA53), so those count as long as one character is not of that kind. Latin-1
 *    names put single accented letters among ASCII letters ("Müller": 0xFC then "l"), so they fail.
 * 4. Otherwise Latin-1, which decodes any byte (the declared set, or the closest to "undeclared").
 * The rule misreads Latin-1 text whose accented letters come in adjacent pairs (e.g. "Gößling") as
 * Chinese, and a name made only of GBK-extension characters as Latin-1; modalities that write
 * such names should declare GB18030 (recommended in the conformance statement).
 */
export function decodeUndeclared(bytes: Uint8Array): string {
  if (bytes.every((byte) => byte < 0x80)) return decoder("latin1").decode(bytes);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    // not UTF-8: fall through
  }
  if (looksLikeGbk(bytes)) return decoder("gb18030").decode(bytes);
  return decoder("latin1").decode(bytes);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Every high byte starts a GBK double-byte character, and one of them has a high trail byte. */
function looksLikeGbk(bytes: Uint8Array): boolean {
  let highTrail = false;
  for (let index = 0; index < bytes.length; index += 1) {
    const lead = bytes[index] ?? 0;
    if (lead < 0x80) continue;
    const trail = bytes[index + 1] ?? 0;
    if (lead < 0x81 || lead > 0xfe || trail < 0x40 || trail === 0x7f || trail > 0xfe) return false;
    if (trail >= 0x80) highTrail = true;
    index += 1;
  }
  return highTrail;
}

/** Bytes that return ISO 2022 to the initial sets: value, line and page ends; "^" and "=" in PN. */
const RESETS_ALWAYS = new Set([0x5c, 0x0d, 0x0a, 0x0c]);
const RESETS_IN_PN = new Set([0x5e, 0x3d]);

/**
 * PS3.5 6.1.2.5: ISO 2022 code extension. G0 stays ASCII for the sets we decode; each escape
 * sequence (re)designates G1, and the bytes up to the next escape are decoded with that set's EUC
 * decoder (which reads ASCII bytes as ASCII). The delimiters of PS3.5 6.1.2.5.3 switch back to the
 * initial G1 when the first value designates one, as an encoder may rely on that. Japanese G0 sets
 * (IR 87, IR 159) go to the ISO-2022-JP decoder whole.
 */
function decodeIso2022(bytes: Uint8Array, firstTerm: string, personName: boolean): string {
  const text = decoder("latin1").decode(bytes);
  if (JAPANESE_G0_ESCAPES.some((sequence) => text.includes(sequence)))
    return decoder("iso-2022-jp").decode(bytes);
  const initial = INITIAL_G1[firstTerm] ?? "latin1";
  // Only a first value that designates a G1 set has one to return to. Under ISO 2022 IR 6 (or an
  // empty first value) G1 is empty, so high bytes after a delimiter can only mean the set last
  // designated: some encoders write one escape for a whole PN, and we read them right.
  const resets = INITIAL_G1[firstTerm] !== undefined;
  let g1 = initial;
  let out = "";
  let segmentStart = 0;
  const flush = (end: number) => {
    if (end > segmentStart) out += decoder(g1).decode(bytes.subarray(segmentStart, end));
    segmentStart = end;
  };
  for (let index = 0; index < bytes.length; index += 1) {
    const byte = bytes[index] ?? 0;
    if (resets && (RESETS_ALWAYS.has(byte) || (personName && RESETS_IN_PN.has(byte)))) {
      // EUC G1 bytes are all ≥ 0xA1, so an ASCII delimiter here is a delimiter, never a trail byte.
      if (g1 !== initial) {
        flush(index);
        g1 = initial;
      }
      continue;
    }
    if (byte !== 0x1b) continue;
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
