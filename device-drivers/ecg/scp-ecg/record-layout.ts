/**
 * The outer structure of an SCP-ECG record (EN 1064 5.2–5.4): record CRC (2 bytes) and length
 * (4 bytes, the whole record), then sections, each with a 16-byte header — CRC (2), ID (2), length
 * (4, header included), section version (1), protocol version (1), reserved (6) — and section 0
 * listing where every other section is (pointer fields: ID 2, length 4, 1-based index 4).
 * Section 0's reserved bytes hold "SCPECG" (v1.3 and later): that marker is how a record is
 * recognised, in a file and on a line.
 */
import { ByteWindow } from "./bytes.ts";
import { crcCcitt } from "./crc.ts";
import { SCP_ERROR_CODES, ScpEcgError, type ScpErrorCode } from "./errors.ts";

export const RECORD_HEADER_LENGTH = 6;
export const SECTION_HEADER_LENGTH = 16;
/** "SCPECG" in section 0's reserved bytes, at this offset from the start of the record. */
export const MARKER_OFFSET = RECORD_HEADER_LENGTH + 10;
export const SCP_MARKER = Uint8Array.from("SCPECG", (character) => character.charCodeAt(0));
/** Record header plus section 0's header: what must be seen before anything can be judged. */
export const RECORD_HEAD_LENGTH = MARKER_OFFSET + SCP_MARKER.length;
const POINTER_LENGTH = 10;
/** v2.0 lists 12 pointers, v3.0 19; manufacturers add a few. More than this is not a section 0. */
const MAX_POINTERS = 256;

export type HeadCheck =
  | { status: "need-more"; byteCount: number }
  | { status: "invalid"; code: ScpErrorCode; reason: string }
  | { status: "plausible"; recordLength: number; section0Length: number };

/**
 * Judges the start of a record (bytes[0] = first CRC byte) from as few bytes as possible: the
 * marker and section ID, the stated lengths, and — once section 0 is all there — section 0's own
 * CRC, which makes a chance "SCPECG" in other data practically never pass. Used by the file
 * decoder and, incrementally, by the line framer.
 */
export function checkRecordHead(bytes: Uint8Array, maxRecordBytes: number): HeadCheck {
  const seen = Math.min(bytes.length, RECORD_HEAD_LENGTH);
  for (let index = MARKER_OFFSET; index < seen; index++) {
    if (bytes[index] !== SCP_MARKER[index - MARKER_OFFSET]) {
      return {
        status: "invalid",
        code: SCP_ERROR_CODES.notScp,
        reason: `no "SCPECG" marker in section 0's header (record bytes ${MARKER_OFFSET}–${RECORD_HEAD_LENGTH - 1}): not an SCP-ECG v1.3+ record`,
      };
    }
  }
  if ((seen > 8 && bytes[8] !== 0) || (seen > 9 && bytes[9] !== 0)) {
    return {
      status: "invalid",
      code: SCP_ERROR_CODES.notScp,
      reason: "the first section is not section 0 (ID at record bytes 8–9 is not 0)",
    };
  }
  if (bytes.length < RECORD_HEAD_LENGTH) return { status: "need-more", byteCount: RECORD_HEAD_LENGTH };
  const head = new ByteWindow(bytes, 0, bytes.length, "record");
  const recordLength = head.u32(2, "record length");
  const section0Length = head.u32(RECORD_HEADER_LENGTH + 4, "section 0 length");
  if (
    section0Length < SECTION_HEADER_LENGTH ||
    section0Length > SECTION_HEADER_LENGTH + MAX_POINTERS * POINTER_LENGTH
  ) {
    return {
      status: "invalid",
      code: SCP_ERROR_CODES.malformed,
      reason: `section 0 states a length of ${section0Length} bytes, not a plausible pointer section`,
    };
  }
  if (recordLength < RECORD_HEADER_LENGTH + section0Length) {
    return {
      status: "invalid",
      code: SCP_ERROR_CODES.malformed,
      reason: `the record states a length of ${recordLength} bytes, less than its header and section 0 (${RECORD_HEADER_LENGTH + section0Length})`,
    };
  }
  if (recordLength > maxRecordBytes) {
    return {
      status: "invalid",
      code: SCP_ERROR_CODES.malformed,
      reason: `the record states a length of ${recordLength} bytes, more than the accepted maximum of ${maxRecordBytes}`,
    };
  }
  const section0End = RECORD_HEADER_LENGTH + section0Length;
  if (bytes.length < section0End) return { status: "need-more", byteCount: section0End };
  const stored = head.u16(RECORD_HEADER_LENGTH, "section 0 CRC");
  const computed = crcCcitt(bytes, RECORD_HEADER_LENGTH + 2, section0End);
  if (stored !== computed) {
    return {
      status: "invalid",
      code: SCP_ERROR_CODES.badCrc,
      reason: `section 0 CRC mismatch (stored 0x${hex4(stored)}, computed 0x${hex4(computed)})`,
    };
  }
  return { status: "plausible", recordLength, section0Length };
}

export interface ScpSection {
  id: number;
  /** Offset of the section's first byte (its CRC) in the record. */
  offset: number;
  /** Length including the 16-byte header. */
  length: number;
  version: number;
  protocolVersion: number;
  /** The bytes after the header. */
  body: ByteWindow;
}

export interface ScpRecordLayout {
  recordLength: number;
  /** Protocol version byte of section 0 (20 = v2.0, 30 = v3.0, 13 = v1.3). */
  protocolVersion: number;
  /** Sections present (pointer length > header), by ID, section 0 included. */
  sections: Map<number, ScpSection>;
  notes: string[];
}

/** Sections whose content the decoder uses: a CRC error there rejects the record. */
const DECODED_SECTIONS = new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 11]);

/**
 * Verifies the record (length, record CRC, section 0, pointers, each section's header and CRC) and
 * returns where its sections are. Throws ScpEcgError with SCP_NOT_SCP, SCP_TRUNCATED, SCP_BAD_CRC or
 * SCP_MALFORMED. Bytes after the stated record length are ignored (and noted).
 */
export function readRecordLayout(bytes: Uint8Array): ScpRecordLayout {
  const check = checkRecordHead(bytes, Number.POSITIVE_INFINITY);
  if (check.status === "need-more") {
    throw new ScpEcgError(
      SCP_ERROR_CODES.truncated,
      `only ${bytes.length} bytes: too short for an SCP-ECG record, whose header and section 0 need ${check.byteCount}`,
    );
  }
  if (check.status === "invalid") throw new ScpEcgError(check.code, check.reason);
  const { recordLength } = check;
  if (recordLength > bytes.length) {
    throw new ScpEcgError(
      SCP_ERROR_CODES.truncated,
      `SCP-ECG record cut short: it states ${recordLength} bytes, ${bytes.length} are present`,
    );
  }
  const notes: string[] = [];
  if (recordLength < bytes.length)
    notes.push(`${bytes.length - recordLength} bytes after the record ignored`);
  const record = new ByteWindow(bytes, 0, recordLength, "record");
  const storedCrc = record.u16(0, "record CRC");
  const computedCrc = crcCcitt(bytes, 2, recordLength);
  if (storedCrc !== computedCrc) {
    throw new ScpEcgError(
      SCP_ERROR_CODES.badCrc,
      `record CRC mismatch (stored 0x${hex4(storedCrc)}, computed 0x${hex4(computedCrc)} over ${recordLength - 2} bytes)`,
    );
  }
  const section0 = sectionAt(record, RECORD_HEADER_LENGTH, 0);
  const sections = new Map<number, ScpSection>([[0, section0]]);
  const pointerCount = Math.floor(section0.body.length / POINTER_LENGTH);
  for (let pointer = 0; pointer < pointerCount; pointer++) {
    const at = pointer * POINTER_LENGTH;
    const id = section0.body.u16(at, "pointer section ID");
    const length = section0.body.u32(at + 2, "pointer section length");
    const index = section0.body.u32(at + 6, "pointer section index");
    if (id === 0 || length === 0) continue;
    if (length <= SECTION_HEADER_LENGTH) {
      // A header without content (or less): nothing to decode. Seen in writers that list every section.
      if (length < SECTION_HEADER_LENGTH)
        notes.push(`section ${id} listed with ${length} bytes, shorter than a header; ignored`);
      continue;
    }
    if (sections.has(id)) {
      notes.push(`section ${id} listed twice in section 0; the first one used`);
      continue;
    }
    try {
      sections.set(id, locateSection(record, id, length, index));
    } catch (error) {
      // A section we do not use (9, 10, a manufacturer's) must not cost the ECG.
      if (DECODED_SECTIONS.has(id) || !(error instanceof ScpEcgError)) throw error;
      notes.push(`${error.message}; the section is not used`);
    }
  }
  for (const section of sections.values()) verifySectionCrc(bytes, section, notes);
  return { recordLength, protocolVersion: section0.protocolVersion, sections, notes };
}

/** The section a pointer describes, checked against the record's bounds and the section's own header. */
function locateSection(record: ByteWindow, id: number, length: number, index: number): ScpSection {
  if (index < 1 || index - 1 + length > record.length) {
    throw new ScpEcgError(
      SCP_ERROR_CODES.malformed,
      `section 0 places section ${id} at bytes ${index - 1}–${index - 2 + length}, outside the ${record.length}-byte record`,
    );
  }
  const section = sectionAt(record, index - 1, id);
  if (section.length !== length) {
    throw new ScpEcgError(
      SCP_ERROR_CODES.malformed,
      `section ${id}: section 0 states ${length} bytes, its own header ${section.length}`,
    );
  }
  return section;
}

function sectionAt(record: ByteWindow, offset: number, expectedId: number): ScpSection {
  const context = `section ${expectedId}`;
  const header = record.window(offset, SECTION_HEADER_LENGTH, `${context} header`);
  const id = header.u16(2, "section ID");
  if (id !== expectedId) {
    throw new ScpEcgError(
      SCP_ERROR_CODES.malformed,
      `section 0 points to section ${expectedId} at byte ${offset}, but the header there has ID ${id}`,
    );
  }
  const length = header.u32(4, "section length");
  if (length < SECTION_HEADER_LENGTH || offset + length > record.length) {
    throw new ScpEcgError(
      SCP_ERROR_CODES.malformed,
      `${context} states ${length} bytes from byte ${offset}, outside the ${record.length}-byte record`,
    );
  }
  return {
    id,
    offset,
    length,
    version: header.u8(8, "section version"),
    protocolVersion: header.u8(9, "protocol version"),
    body: record.window(offset + SECTION_HEADER_LENGTH, length - SECTION_HEADER_LENGTH, context),
  };
}

function verifySectionCrc(bytes: Uint8Array, section: ScpSection, notes: string[]): void {
  const stored = (bytes[section.offset] ?? 0) | ((bytes[section.offset + 1] ?? 0) << 8);
  const computed = crcCcitt(bytes, section.offset + 2, section.offset + section.length);
  if (stored === computed) return;
  const problem = `section ${section.id} CRC mismatch (stored 0x${hex4(stored)}, computed 0x${hex4(computed)})`;
  if (DECODED_SECTIONS.has(section.id)) throw new ScpEcgError(SCP_ERROR_CODES.badCrc, problem);
  notes.push(`${problem}; the section is not used`);
}

/** "2.0" from protocol version byte 20; undefined for 0 (not stated). */
export function versionText(protocolVersion: number): string | undefined {
  if (protocolVersion === 0) return undefined;
  return `${Math.floor(protocolVersion / 10)}.${protocolVersion % 10}`;
}

export function hex4(value: number): string {
  return value.toString(16).toUpperCase().padStart(4, "0");
}
