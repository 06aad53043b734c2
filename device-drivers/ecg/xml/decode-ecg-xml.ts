/**
 * An ECG XML export's bytes → EcgRecord, whichever of the three dialects carts write: the text
 * encoding is found from BOM and declaration, the dialect from the root element.
 */
import type { EcgRecord } from "../ecg-record.ts";
import { EcgXmlError } from "./errors.ts";
import { decodeGeMuseDocument } from "./ge-muse-xml.ts";
import { decodeHl7AecgDocument } from "./hl7-aecg.ts";
import { MAX_XML_BYTES } from "./limits.ts";
import { decodePhilipsDocument } from "./philips-xml.ts";
import { decodeXmlBytes } from "./xml-text.ts";
import { parseXmlDocument, type XmlElement } from "./xml-tree.ts";

export type EcgXmlDialect = "hl7-aecg" | "philips-xml" | "ge-muse-xml";

/** Root element (local name) → dialect. */
const DIALECT_BY_ROOT: Record<string, EcgXmlDialect> = {
  AnnotatedECG: "hl7-aecg",
  restingecgdata: "philips-xml",
  RestingECG: "ge-muse-xml",
};

type DocumentDecoder = (root: XmlElement, notes: string[]) => EcgRecord;

const DECODERS: Record<EcgXmlDialect, DocumentDecoder> = {
  "hl7-aecg": decodeHl7AecgDocument,
  "philips-xml": decodePhilipsDocument,
  "ge-muse-xml": decodeGeMuseDocument,
};

/** Any of the three dialects; throws EcgXmlError (ECG_XML_UNKNOWN_DIALECT for other XML). */
export function decodeEcgXml(bytes: Uint8Array): EcgRecord {
  const { root, notes } = parse(bytes);
  const dialect = DIALECT_BY_ROOT[root.name];
  if (!dialect) {
    throw new EcgXmlError(
      "ECG_XML_UNKNOWN_DIALECT",
      `root element <${root.name.slice(0, 64)}> is not an ECG export the box reads (HL7 aECG AnnotatedECG, Philips restingecgdata, GE MUSE RestingECG)`,
      { root: root.name.slice(0, 64) },
    );
  }
  return DECODERS[dialect](root, notes);
}

/** HL7 v3 aECG only (bytes in any supported encoding, or text already decoded). */
export function decodeHl7Aecg(input: Uint8Array | string): EcgRecord {
  return decodeAs("hl7-aecg", input);
}

/** Philips SierraECG / PageWriter XML only. */
export function decodePhilipsXml(input: Uint8Array | string): EcgRecord {
  return decodeAs("philips-xml", input);
}

/** GE MUSE RestingECG XML only. */
export function decodeGeMuseXml(input: Uint8Array | string): EcgRecord {
  return decodeAs("ge-muse-xml", input);
}

function decodeAs(dialect: EcgXmlDialect, input: Uint8Array | string): EcgRecord {
  const { root, notes } = parse(input);
  if (DIALECT_BY_ROOT[root.name] !== dialect) {
    throw new EcgXmlError(
      "ECG_XML_UNKNOWN_DIALECT",
      `root element <${root.name.slice(0, 64)}> is not ${dialect}`,
      { root: root.name.slice(0, 64), expected: dialect },
    );
  }
  return DECODERS[dialect](root, notes);
}

function parse(input: Uint8Array | string): { root: XmlElement; notes: string[] } {
  if (typeof input === "string") {
    if (input.length > MAX_XML_BYTES) {
      throw new EcgXmlError(
        "ECG_XML_TOO_LARGE",
        `ECG XML text of ${input.length} characters; the box accepts at most ${MAX_XML_BYTES}`,
      );
    }
    return { root: parseXmlDocument(input.replace(/^\uFEFF/, "")), notes: [] };
  }
  const { text, notes } = decodeXmlBytes(input);
  return { root: parseXmlDocument(text), notes: [...notes] };
}

/** How far into a file the root element is looked for (aECG files open with long comments). */
const SNIFF_BYTES = 64 * 1024;

/**
 * The dialect of a file from its first bytes, without decoding it: for an import folder deciding
 * which files are ours. Undefined for anything else (including XML that is not an ECG export).
 */
export function detectEcgXmlDialect(bytes: Uint8Array): EcgXmlDialect | undefined {
  let text: string;
  try {
    text = decodeXmlBytes(bytes.subarray(0, SNIFF_BYTES)).text;
  } catch {
    return undefined;
  }
  const withoutProlog = text.replace(
    /<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!DOCTYPE[^[>]*(\[[\s\S]*?\])?\s*>/g,
    "",
  );
  const root = /^\s*<(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)/.exec(withoutProlog)?.[1];
  return root === undefined ? undefined : DIALECT_BY_ROOT[root];
}
