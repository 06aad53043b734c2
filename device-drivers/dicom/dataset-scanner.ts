/**
 * A structural scan of a DICOM dataset (PS3.5 7): walks every element, item and fragment to the end,
 * so a truncated or mis-framed dataset is caught, and returns the raw values of the wanted top-level
 * elements. Values it does not want (pixel data above all) are skipped by position, never read.
 */
import { type ByteSource, TruncatedError } from "./byte-source.ts";

export interface DatasetEncoding {
  explicitVr: boolean;
  littleEndian: boolean;
}

/** A top-level element's VR ("" in implicit VR) and its value bytes, undecoded. */
export interface RawElement {
  vr: string;
  bytes: Uint8Array;
}

/** The dataset's framing is broken (or it ends early): it cannot be understood. */
export class MalformedDatasetError extends Error {
  override name = "MalformedDatasetError";
}

export interface ScanOptions {
  /** Byte position of the first element. */
  start: number;
  /** Byte position just past the last element; default the end of the source. */
  end?: number;
  encoding: DatasetEncoding;
  /** Tags (group << 16 | element) whose top-level values to return. */
  wanted: ReadonlySet<number>;
}

const ITEM = 0xfffee000;
const ITEM_DELIMITATION = 0xfffee00d;
const SEQUENCE_DELIMITATION = 0xfffee0dd;
const UNDEFINED_LENGTH = 0xffffffff;
/** Nesting deeper than this is an attack or garbage, not a modality's dataset. */
const MAX_DEPTH = 32;
/** PS3.5 Table 7.1-1: explicit VRs with 2 reserved bytes and a 32-bit length. */
const LONG_FORM_VRS = new Set(["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"]);
/** PS3.5 6.2.2: a UN element of undefined length holds a sequence in Implicit VR Little Endian. */
const IMPLICIT_LITTLE_ENDIAN: DatasetEncoding = { explicitVr: false, littleEndian: true };
/** PS3.5 A.4: encapsulated pixel data fragments are always little endian items. */
const ENCAPSULATED: DatasetEncoding = { explicitVr: true, littleEndian: true };

interface Header {
  tag: number;
  vr: string;
  length: number;
  valueStart: number;
}

/** Scan a dataset; throws MalformedDatasetError when it is truncated or mis-framed. */
export async function scanDataset(
  source: ByteSource,
  options: ScanOptions,
): Promise<Map<number, RawElement>> {
  const found = new Map<number, RawElement>();
  const scanner = new Scanner(source, options.wanted, found);
  try {
    await scanner.elements(options.start, options.end ?? source.size, options.encoding, 0);
  } catch (error) {
    if (error instanceof TruncatedError) throw new MalformedDatasetError(`truncated: ${error.message}`);
    throw error;
  }
  return found;
}

class Scanner {
  private readonly source: ByteSource;
  private readonly wanted: ReadonlySet<number>;
  private readonly found: Map<number, RawElement>;

  constructor(source: ByteSource, wanted: ReadonlySet<number>, found: Map<number, RawElement>) {
    this.source = source;
    this.wanted = wanted;
    this.found = found;
  }

  /**
   * Elements from `position` up to `end`, or, when `end` is undefined, up to the item delimitation
   * item that closes an undefined-length item. Returns the position after the last byte consumed.
   */
  async elements(position: number, end: number | undefined, encoding: DatasetEncoding, depth: number) {
    let at = position;
    while (end === undefined || at < end) {
      const header = await this.header(at, encoding);
      if (header.tag === ITEM_DELIMITATION && end === undefined) return header.valueStart;
      if (header.tag >>> 16 === 0xfffe) {
        throw new MalformedDatasetError(`unexpected item tag ${hex(header.tag)} at ${at}`);
      }
      at = await this.value(header, encoding, depth);
    }
    if (at !== end) throw new MalformedDatasetError(`element overruns its container by ${at - end} bytes`);
    return at;
  }

  private async value(header: Header, encoding: DatasetEncoding, depth: number): Promise<number> {
    if (header.length !== UNDEFINED_LENGTH) {
      const end = header.valueStart + header.length;
      if (end > this.source.size) throw new TruncatedError(`value of ${hex(header.tag)} ends past the data`);
      if (header.vr === "SQ") return this.items(header.valueStart, end, encoding, depth + 1);
      if (depth === 0 && this.wanted.has(header.tag)) {
        this.found.set(header.tag, {
          vr: header.vr,
          bytes: await this.source.read(header.valueStart, header.length),
        });
      }
      return end;
    }
    // PS3.5 7.1.3: in implicit VR only a sequence may have undefined length.
    if (header.vr === "SQ" || header.vr === "")
      return this.items(header.valueStart, undefined, encoding, depth + 1);
    if (header.vr === "UN")
      return this.items(header.valueStart, undefined, IMPLICIT_LITTLE_ENDIAN, depth + 1);
    if (header.vr === "OB" || header.vr === "OW") return this.fragments(header.valueStart);
    throw new MalformedDatasetError(`undefined length on VR ${header.vr} of ${hex(header.tag)}`);
  }

  /** PS3.5 7.5: sequence items, up to `end` or to the sequence delimitation item. */
  private async items(position: number, end: number | undefined, encoding: DatasetEncoding, depth: number) {
    if (depth > MAX_DEPTH) throw new MalformedDatasetError(`sequences nested deeper than ${MAX_DEPTH}`);
    let at = position;
    while (end === undefined || at < end) {
      const header = await this.header(at, encoding);
      if (header.tag === SEQUENCE_DELIMITATION) return header.valueStart;
      if (header.tag !== ITEM) throw new MalformedDatasetError(`expected an item, found ${hex(header.tag)}`);
      if (header.length === UNDEFINED_LENGTH) {
        at = await this.elements(header.valueStart, undefined, encoding, depth);
      } else {
        const itemEnd = header.valueStart + header.length;
        if (itemEnd > this.source.size) throw new TruncatedError("item ends past the data");
        at = await this.elements(header.valueStart, itemEnd, encoding, depth);
      }
    }
    if (at !== end) throw new MalformedDatasetError(`item overruns its sequence by ${at - end} bytes`);
    return at;
  }

  /** PS3.5 A.4: encapsulated pixel data, items of defined length closed by a sequence delimiter. */
  private async fragments(position: number): Promise<number> {
    let at = position;
    for (;;) {
      const header = await this.header(at, ENCAPSULATED);
      if (header.tag === SEQUENCE_DELIMITATION) return header.valueStart;
      if (header.tag !== ITEM || header.length === UNDEFINED_LENGTH) {
        throw new MalformedDatasetError(`bad pixel data fragment ${hex(header.tag)} at ${at}`);
      }
      at = header.valueStart + header.length;
      if (at > this.source.size) throw new TruncatedError("fragment ends past the data");
    }
  }

  /** PS3.5 7.1.1–7.1.3 (element headers) and 7.5 (item headers, which never carry a VR). */
  private async header(position: number, encoding: DatasetEncoding): Promise<Header> {
    const bytes = await this.source.read(position, 8);
    const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
    const little = encoding.littleEndian;
    const tag = ((view.getUint16(0, little) << 16) | view.getUint16(2, little)) >>> 0;
    if (tag >>> 16 === 0xfffe || !encoding.explicitVr) {
      return { tag, vr: "", length: view.getUint32(4, little), valueStart: position + 8 };
    }
    const vr = String.fromCharCode(bytes[4] ?? 0, bytes[5] ?? 0);
    if (!/^[A-Z]{2}$/.test(vr)) throw new MalformedDatasetError(`invalid VR at ${position} for ${hex(tag)}`);
    if (!LONG_FORM_VRS.has(vr))
      return { tag, vr, length: view.getUint16(6, little), valueStart: position + 8 };
    const long = await this.source.read(position + 8, 4);
    const length = new DataView(long.buffer, long.byteOffset, 4).getUint32(0, little);
    return { tag, vr, length, valueStart: position + 12 };
  }
}

function hex(tag: number): string {
  const text = tag.toString(16).padStart(8, "0").toUpperCase();
  return `(${text.slice(0, 4)},${text.slice(4)})`;
}
