/**
 * XML text → a small element tree the dialect decoders walk. fast-xml-parser does the parsing; this
 * module fixes the options that make it safe for files from outside (no entity expansion, bounded
 * nesting, strings kept as strings so "000123" stays a patient ID) and gives one plain shape.
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { EcgXmlError } from "./errors.ts";
import { MAX_XML_BYTES } from "./limits.ts";

export interface XmlElement {
  /** Local name: any namespace prefix is removed (aECG is namespaced, the others are not). */
  readonly name: string;
  /** Attributes by local name ("xsi:type" is "type"). */
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: readonly XmlElement[];
  /** The element's own text (CDATA included), trimmed; "" when it has none. */
  readonly text: string;
}

/** Nesting depth beyond any ECG dialect (aECG annotations reach about 20). */
const MAX_NESTING = 64;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false, // text is trimmed once joined, so spaces next to CDATA or entities survive
  // The five XML entities and numeric character references (&#x4E2D;) are decoded, each to one
  // character (htmlEntities adds the numeric ones, and HTML names like &nbsp; some exporters write). Entities a DOCTYPE declares are refused before parsing (refuseEntityDeclarations),
  // so nothing can expand; the limits are the parser's second line of defence.
  processEntities: {
    enabled: true,
    maxEntityCount: 0,
    maxEntitySize: 0,
    maxTotalExpansions: MAX_XML_BYTES,
    maxExpandedLength: MAX_XML_BYTES,
  },
  htmlEntities: true,
  maxNestedTags: MAX_NESTING,
});

type OrderedNode = Record<string, unknown> & { ":@"?: Record<string, unknown> };

/** Parses a whole document and returns its root element. */
export function parseXmlDocument(text: string): XmlElement {
  refuseEntityDeclarations(text);
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    throw new EcgXmlError(
      "ECG_XML_MALFORMED",
      `not well-formed XML: ${valid.err.msg} (line ${valid.err.line})`,
      {
        line: valid.err.line,
        reason: valid.err.code,
      },
    );
  }
  let nodes: OrderedNode[];
  try {
    nodes = parser.parse(text) as OrderedNode[];
  } catch (error) {
    throw new EcgXmlError(
      "ECG_XML_MALFORMED",
      `not well-formed XML: ${(error as Error).message.slice(0, 200)}`,
    );
  }
  for (const node of nodes) {
    const element = toElement(node);
    if (element) return element;
  }
  throw new EcgXmlError("ECG_XML_MALFORMED", "the document has no root element");
}

/**
 * ECG exports never declare entities (MUSE only names an external DTD it does not need); a file
 * that does is refused outright, which closes the door on "billion laughs" expansion whatever the
 * parser would do with it.
 */
function refuseEntityDeclarations(text: string): void {
  const prolog = text.slice(0, rootStart(text));
  if (/<!ENTITY/i.test(prolog)) {
    throw new EcgXmlError(
      "ECG_XML_MALFORMED",
      "the document declares XML entities; ECG exports never do, refused",
    );
  }
}

/** Index of the root element's "<", skipping declaration, comments, DOCTYPE (with internal subset). */
function rootStart(text: string): number {
  let at = 0;
  for (;;) {
    const lt = text.indexOf("<", at);
    if (lt < 0) return text.length;
    const next = text[lt + 1];
    if (next === "?") at = endOf(text, "?>", lt);
    else if (text.startsWith("<!--", lt)) at = endOf(text, "-->", lt);
    else if (next === "!") at = doctypeEnd(text, lt);
    else return lt;
  }
}

function endOf(text: string, terminator: string, from: number): number {
  const end = text.indexOf(terminator, from);
  return end < 0 ? text.length : end + terminator.length;
}

function doctypeEnd(text: string, from: number): number {
  const close = text.indexOf(">", from);
  const bracket = text.indexOf("[", from);
  if (bracket >= 0 && (close < 0 || bracket < close)) {
    // An internal subset: the declaration ends at the ">" after its "]".
    const subsetEnd = text.indexOf("]", bracket);
    return subsetEnd < 0 ? text.length : endOf(text, ">", subsetEnd);
  }
  return close < 0 ? text.length : close + 1;
}

function toElement(node: OrderedNode): XmlElement | undefined {
  const name = Object.keys(node).find((key) => key !== ":@");
  if (name === undefined || name === "#text" || name.startsWith("?") || name.startsWith("#"))
    return undefined;
  const childNodes = (node[name] ?? []) as OrderedNode[];
  const children: XmlElement[] = [];
  const texts: string[] = [];
  for (const child of childNodes) {
    if ("#text" in child) texts.push(String(child["#text"]));
    else {
      const element = toElement(child);
      if (element) children.push(element);
    }
  }
  const attributes: Record<string, string> = {};
  for (const [key, value] of Object.entries(node[":@"] ?? {})) attributes[key] = String(value);
  return { name, attributes, children, text: texts.join("").trim() };
}

/** The first child with this name, following a path of names ("a", "b", "c" = a/b/c). */
export function child(element: XmlElement | undefined, ...path: string[]): XmlElement | undefined {
  let at = element;
  for (const name of path) {
    at = at?.children.find((c) => c.name === name);
    if (!at) return undefined;
  }
  return at;
}

/** All children with this name, in document order. */
export function children(element: XmlElement | undefined, name: string): XmlElement[] {
  return element ? element.children.filter((c) => c.name === name) : [];
}

/** The text at a path, or undefined when the element is absent or empty. */
export function textAt(element: XmlElement | undefined, ...path: string[]): string | undefined {
  const text = child(element, ...path)?.text;
  return text ? text : undefined;
}

/** An attribute at a path, or undefined when absent or empty. */
export function attributeAt(
  element: XmlElement | undefined,
  attribute: string,
  ...path: string[]
): string | undefined {
  const value = child(element, ...path)?.attributes[attribute]?.trim();
  return value ? value : undefined;
}
