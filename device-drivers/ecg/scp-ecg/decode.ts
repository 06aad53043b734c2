/**
 * decodeScpEcg: a complete SCP-ECG record (a file, or one record received over a line) → EcgRecord.
 * The record CRC and every used section's CRC are verified first; sections 1–8 and 11 are decoded,
 * 9, 10 and manufacturer sections (12 and up) are skipped. A damaged optional section (7, 8, 11, or
 * 4/5 when the rhythm does not need them) costs only its own content, with a note; anything wrong in
 * what the waveform needs rejects the record with a ScpEcgError.
 */
import type { EcgRecord } from "../ecg-record.ts";
import { SCP_ERROR_CODES, ScpEcgError } from "./errors.ts";
import { type HuffmanCoding, readHuffmanCoding } from "./huffman.ts";
import { readSection7 } from "./measurements.ts";
import { readRecordLayout, type ScpRecordLayout, versionText } from "./record-layout.ts";
import { readSection1, type ScpSection1 } from "./section1.ts";
import { decodeSignal } from "./signal-reconstruction.ts";
import {
  type EncodedLeads,
  type QrsLocations,
  readEncodedLeads,
  readSection3,
  readSection4,
} from "./signal-sections.ts";
import { readStatements } from "./statements.ts";
import { textDecoderFor } from "./text.ts";

export interface ScpEcgDetails {
  record: EcgRecord;
  /** Section 1 as read, with the fields EcgRecord has no place for; undefined without section 1. */
  section1?: ScpSection1;
  /** IDs of the sections present, in ascending order. */
  sectionIds: number[];
}

/** Decodes a complete SCP-ECG record. Throws ScpEcgError (see errors.ts for the codes). */
export function decodeScpEcg(bytes: Uint8Array): EcgRecord {
  return decodeScpEcgDetailed(bytes).record;
}

export function decodeScpEcgDetailed(bytes: Uint8Array): ScpEcgDetails {
  const layout = readRecordLayout(bytes);
  const { sections } = layout;
  const notes = [...layout.notes];
  const section1 = sections.has(1) ? readSection1(required(layout, 1)) : undefined;
  if (section1) notes.push(...section1.notes);

  const coding: HuffmanCoding = sections.has(2) ? readHuffmanCoding(required(layout, 2)) : { kind: "none" };
  if (!sections.has(6)) {
    throw new ScpEcgError(
      SCP_ERROR_CODES.unsupported,
      "the record has no rhythm data (section 6); nothing to show",
    );
  }
  if (!sections.has(3)) {
    throw new ScpEcgError(
      SCP_ERROR_CODES.malformed,
      "the record has rhythm data (section 6) but no lead definition (section 3)",
    );
  }
  const leads = readSection3(required(layout, 3));
  const rhythm = readEncodedLeads(required(layout, 6), leads.leads.length, 6);
  const needsReference = leads.referenceBeatSubtraction || rhythm.bimodal;
  const optional = <T>(what: string, read: () => T): T | undefined => {
    try {
      return read();
    } catch (error) {
      if (needsReference || !(error instanceof ScpEcgError)) throw error;
      notes.push(`${what} unreadable (${error.message}); left out`);
      return undefined;
    }
  };
  const qrs: QrsLocations | undefined = sections.has(4)
    ? optional("QRS locations (section 4)", () => readSection4(required(layout, 4)))
    : undefined;
  const reference: EncodedLeads | undefined = sections.has(5)
    ? optional("reference beats (section 5)", () =>
        readEncodedLeads(required(layout, 5), leads.leads.length, 5),
      )
    : undefined;
  const signal = decodeSignal({
    leads,
    coding,
    rhythm,
    ...(qrs && { qrs }),
    ...(reference && { reference }),
  });
  notes.push(...signal.notes);

  const record: EcgRecord = {
    source: { format: "scp-ecg" },
    patient: section1?.patient ?? {},
    acquisition: section1?.acquisition ?? {},
    rhythm: signal.rhythm,
  };
  const version =
    versionText(layout.protocolVersion) ??
    versionText(section1?.extras.acquiringDevice?.protocolRevision ?? 0);
  if (version) record.source.version = version;
  if (signal.medianBeats) record.medianBeats = signal.medianBeats;

  const tolerant = <T>(what: string, read: () => T): T | undefined => {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof ScpEcgError)) throw error;
      notes.push(`${what} unreadable (${error.message}); left out`);
      return undefined;
    }
  };
  const measurements = sections.has(7)
    ? tolerant("measurements (section 7)", () => readSection7(required(layout, 7)))
    : undefined;
  if (measurements) record.measurements = measurements;
  const decodeText = textDecoderFor(section1?.languageCode);
  const statements: string[] = [];
  for (const id of [8, 11] as const) {
    if (!sections.has(id)) continue;
    const found =
      tolerant(`statements (section ${id})`, () => readStatements(required(layout, id), id, decodeText)) ??
      [];
    for (const statement of found) if (!statements.includes(statement)) statements.push(statement);
  }
  if (statements.length > 0) record.statements = statements;
  if (notes.length > 0) record.notes = notes;

  const details: ScpEcgDetails = { record, sectionIds: [...sections.keys()].sort((a, b) => a - b) };
  if (section1) details.section1 = section1;
  return details;
}

function required(layout: ScpRecordLayout, id: number) {
  const section = layout.sections.get(id);
  if (!section) throw new ScpEcgError(SCP_ERROR_CODES.malformed, `section ${id} expected but absent`);
  return section.body;
}
