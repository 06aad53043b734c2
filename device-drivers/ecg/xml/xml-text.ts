/**
 * Bytes of an ECG XML export → text. Carts write UTF-8, UTF-16 with a byte-order mark (Philips
 * PageWriter 1.04), ISO-8859-1 (GE MUSE) and, on Chinese carts, GB2312/GBK; the XML declaration
 * says which, the BOM overrides it (XML 1.0 appendix F).
 */
import { EcgXmlError } from "./errors.ts";
import { MAX_XML_BYTES } from "./limits.ts";

export interface XmlText {
  text: string;
  /** The WHATWG name of the decoder used, e.g. "utf-8", "utf-16le", "gb18030", "windows-1252". */
  encoding: string;
  /** What a reader should know about the decoding (no content quoted). */
  notes: string[];
}

/**
 * GB2312 and GBK are subsets of GB18030; decoding them all as GB18030 reads every character a
 * Chinese cart can write, including the rare ones GB2312 lacks that carts still emit.
 */
const GB_LABELS = new Set([
  "gb2312",
  "gbk",
  "gb_2312",
  "gb_2312-80",
  "x-gbk",
  "cp936",
  "ms936",
  "euc-cn",
  "x-euc-cn",
  "gb18030",
  "csgb2312",
  "chinese",
  "iso-ir-58",
]);

/** The declaration sits in the first bytes; 1 KiB leaves room for a long one. */
const DECLARATION_SCAN_BYTES = 1024;

export function decodeXmlBytes(bytes: Uint8Array): XmlText {
  if (bytes.length > MAX_XML_BYTES) {
    throw new EcgXmlError(
      "ECG_XML_TOO_LARGE",
      `ECG XML file is ${bytes.length} bytes; the box accepts at most ${MAX_XML_BYTES}`,
      { bytes: bytes.length, max: MAX_XML_BYTES },
    );
  }
  const fromBom = encodingFromByteOrderMark(bytes);
  if (fromBom) return { text: decode(bytes, fromBom), encoding: fromBom, notes: [] };
  // UTF-16 without a BOM still starts with "<" as 2 bytes (XML 1.0 appendix F).
  if (bytes[0] === 0x3c && bytes[1] === 0x00)
    return { text: decode(bytes, "utf-16le"), encoding: "utf-16le", notes: [] };
  if (bytes[0] === 0x00 && bytes[1] === 0x3c)
    return { text: decode(bytes, "utf-16be"), encoding: "utf-16be", notes: [] };

  const declared = declaredEncoding(bytes);
  const label = declared === undefined ? "utf-8" : declared.toLowerCase();
  if (GB_LABELS.has(label)) return { text: decode(bytes, "gb18030"), encoding: "gb18030", notes: [] };
  if (label.startsWith("utf-16")) {
    // A declaration says UTF-16 but the bytes are single-byte ("<?xml" read as ASCII): the export
    // tool re-encoded the file and kept the old declaration. The bytes are the truth.
    return decodeUtf8OrGb(bytes, [`declared ${label} but stored as 8-bit text; read as UTF-8`]);
  }
  if (label === "utf-8" || label === "utf8") return decodeUtf8OrGb(bytes, []);
  let decoder: InstanceType<typeof TextDecoder>;
  try {
    decoder = new TextDecoder(label);
  } catch {
    throw new EcgXmlError(
      "ECG_XML_UNSUPPORTED",
      `ECG XML declares encoding "${label.slice(0, 40)}", which the box cannot decode`,
      { encoding: label.slice(0, 40) },
    );
  }
  return { text: decoder.decode(bytes), encoding: decoder.encoding, notes: [] };
}

/**
 * UTF-8 unless the bytes are not UTF-8: Chinese carts have been seen to declare (or imply) UTF-8
 * and write GBK, so invalid UTF-8 is retried as GB18030 rather than turned into U+FFFD.
 */
function decodeUtf8OrGb(bytes: Uint8Array, notes: string[]): XmlText {
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes), encoding: "utf-8", notes };
  } catch {
    return {
      text: decode(bytes, "gb18030"),
      encoding: "gb18030",
      notes: [...notes, "file is not valid UTF-8 as it declares; decoded as GB18030 (GBK/GB2312)"],
    };
  }
}

function decode(bytes: Uint8Array, encoding: string): string {
  return new TextDecoder(encoding).decode(bytes);
}

function encodingFromByteOrderMark(bytes: Uint8Array): string | undefined {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return "utf-8";
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return "utf-16le";
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return "utf-16be";
  return undefined;
}

/** The encoding="…" of `<?xml …?>`, read as ASCII (every encoding we accept writes it so). */
export function declaredEncoding(bytes: Uint8Array): string | undefined {
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, DECLARATION_SCAN_BYTES));
  const declaration = /^\s*<\?xml\s[^>]*?\?>/.exec(head)?.[0];
  if (!declaration) return undefined;
  return /\sencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']/.exec(declaration)?.[1];
}
