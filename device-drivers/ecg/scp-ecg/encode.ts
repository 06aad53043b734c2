/**
 * encodeScpEcg: an EcgRecord → a valid SCP-ECG v2.0 record: sections 0 (pointers), 1 (every
 * patient and acquisition field EcgRecord has), 2 (the default Huffman table, unless uncompressed),
 * 3 (leads), 4 + 5 (median beats as reference beats, without subtraction), 6 (rhythm), 7
 * (measurements) and 8 (statements) when the record has them, every section and the record with
 * its CRC. The simulator plays records with it; tests generate data with it.
 *
 * SCP-ECG has one amplitude multiplier per section and 16-bit values: leads in different units
 * are brought to the finest unit among them, and a record whose values do not fit 16 bits is
 * stored in a coarser unit (the least that fits). Second differences that do not fit 16 bits fall
 * back to first differences, then to plain samples.
 */
import type { EcgLead, EcgRecord, EcgWaveform } from "../ecg-record.ts";
import { ByteWriter } from "./bytes.ts";
import { crcCcitt } from "./crc.ts";
import { SCP_ERROR_CODES, ScpEcgError } from "./errors.ts";
import { DEFAULT_TABLE_MARKER } from "./huffman.ts";
import { leadCode } from "./lead-codes.ts";
import { type DifferenceOrder, encodeLeadData, fitsSixteenBits, type LeadCompression } from "./lead-data.ts";
import { hasMeasurements, writeSection7 } from "./measurements.ts";
import { RECORD_HEADER_LENGTH, SCP_MARKER, SECTION_HEADER_LENGTH } from "./record-layout.ts";
import { writeSection1 } from "./section1.ts";
import { frequencyOf } from "./signal-reconstruction.ts";
import { writeSection8 } from "./statements.ts";
import { languageCodeFor, type ScpCharacterSet } from "./text.ts";

export interface ScpEncodeOptions {
  /** "huffman" (default): default Huffman table; "none": plain 16-bit values and no section 2. */
  compression?: LeadCompression;
  /** Difference encoding for sections 5 and 6; default 2 (second differences) with Huffman, 0 without. */
  difference?: DifferenceOrder;
  /** Character set of the text: "utf-8" (default, declared ISO 10646) or "gbk" (declared GB 2312, as Chinese carts do). */
  characterSet?: ScpCharacterSet;
  /** Also write leads the box derived (`derived: true`); by default a cart's record holds what it measured. */
  includeDerivedLeads?: boolean;
}

/** SCP-ECG v2.0 in the protocol and section version bytes. */
const PROTOCOL_VERSION = 20;
/** Section 0 lists sections 0–11, as v2.0 requires even when absent. */
const POINTER_COUNT = 12;
const MAX_UINT16 = 0xffff;

export function encodeScpEcg(record: EcgRecord, options: ScpEncodeOptions = {}): Uint8Array {
  const compression = options.compression ?? "huffman";
  const requestedOrder = options.difference ?? (compression === "huffman" ? 2 : 0);
  const characterSet = options.characterSet ?? "utf-8";
  const measured = record.rhythm.leads.filter((lead) => options.includeDerivedLeads || !lead.derived);
  const leads = measured.length > 0 ? measured : record.rhythm.leads;
  if (leads.length === 0)
    throw new ScpEcgError(SCP_ERROR_CODES.cannotEncode, "the record has no rhythm leads to encode");
  if (leads.length > 255) {
    throw new ScpEcgError(
      SCP_ERROR_CODES.cannotEncode,
      `${leads.length} leads; SCP-ECG section 3 holds at most 255`,
    );
  }

  const rhythm = toSixteenBitUnits(leads, "rhythm");
  const order = commonDifferenceOrder(rhythm.samples, requestedOrder);
  const medians = medianBeatsFor(record.medianBeats, leads);

  const bodies = new Map<number, Uint8Array>();
  const texts = [
    ...Object.values(record.patient),
    ...Object.values(record.acquisition),
    ...(record.statements ?? []),
  ].filter((value): value is string => typeof value === "string");
  const languageCode = languageCodeFor(
    characterSet,
    texts.some((text) => !/^\p{ASCII}*$/u.test(text)),
  );
  bodies.set(
    1,
    writeSection1(record, {
      characterSet,
      languageCode,
      protocolRevision: PROTOCOL_VERSION,
      compatibilityLevel: medians ? 0xc0 : 0xa0,
    }),
  );
  if (compression === "huffman") bodies.set(2, new ByteWriter().u16(DEFAULT_TABLE_MARKER).toBytes());
  bodies.set(
    3,
    section3(rhythm.samples.map((samples, index) => ({ samples, name: leads[index]?.name ?? "" }))),
  );
  if (medians) {
    const units = toSixteenBitUnits(medians.leads, "median beat");
    const count = units.samples[0]?.length ?? 0;
    const lengthMs = Math.round((count * 1000) / medians.samplingFrequencyHz);
    if (lengthMs > 0 && lengthMs <= MAX_UINT16) {
      // Section 4 without QRS complexes: it only states how long the reference beats are.
      bodies.set(4, new ByteWriter().u16(lengthMs).u16(0).u16(0).toBytes());
      const medianOrder = commonDifferenceOrder(units.samples, requestedOrder);
      bodies.set(
        5,
        leadDataSection(units, medians.samplingFrequencyHz, medianOrder, compression, 0, "reference beat"),
      );
    }
  }
  bodies.set(6, leadDataSection(rhythm, record.rhythm.samplingFrequencyHz, order, compression, 0, "rhythm"));
  if (hasMeasurements(record.measurements)) bodies.set(7, writeSection7(record.measurements));
  if (record.statements && record.statements.length > 0) {
    bodies.set(8, writeSection8(record.statements, record.acquisition, characterSet));
  }
  return assembleScpRecord(bodies);
}

interface UnitSamples {
  avmNanovolts: number;
  samples: Int32Array[];
}

/**
 * One amplitude multiplier for all leads, and values that fit 16 bits: the finest unit among the
 * leads (whole nanovolts, 1–65535), coarsened by the least whole factor that makes the largest
 * value fit.
 */
function toSixteenBitUnits(leads: readonly EcgLead[], what: string): UnitSamples {
  const units = leads.map((lead) => lead.nanovoltsPerUnit);
  if (units.some((unit) => !(unit > 0) || !Number.isFinite(unit))) {
    throw new ScpEcgError(
      SCP_ERROR_CODES.cannotEncode,
      `a ${what} lead has no positive unit size (nanovoltsPerUnit)`,
    );
  }
  let avm = Math.min(MAX_UINT16, Math.max(1, Math.round(Math.min(...units))));
  let samples = leads.map((lead) =>
    lead.nanovoltsPerUnit === avm ? lead.samples : rescale(lead.samples, lead.nanovoltsPerUnit / avm),
  );
  let largest = 0;
  for (const lead of samples) for (const value of lead) largest = Math.max(largest, Math.abs(value));
  if (largest > 32767) {
    const factor = Math.ceil(largest / 32767);
    if (avm * factor > MAX_UINT16) {
      throw new ScpEcgError(
        SCP_ERROR_CODES.cannotEncode,
        `${what} values reach ${largest} units of ${avm} nV; no SCP-ECG amplitude multiplier (≤ 65535 nV) makes them fit 16 bits`,
      );
    }
    avm *= factor;
    samples = samples.map((lead) => rescale(lead, 1 / factor));
  }
  return { avmNanovolts: avm, samples };
}

function rescale(samples: Int32Array, factor: number): Int32Array {
  const scaled = new Int32Array(samples.length);
  for (let index = 0; index < samples.length; index++)
    scaled[index] = Math.round((samples[index] ?? 0) * factor);
  return scaled;
}

/** The requested difference order, or a lower one when some value would not fit 16 bits. */
function commonDifferenceOrder(samples: readonly Int32Array[], requested: DifferenceOrder): DifferenceOrder {
  for (let order = requested; order > 0; order--) {
    const candidate = order as DifferenceOrder;
    if (samples.every((lead) => fitsSixteenBits(lead, candidate))) return candidate;
  }
  return 0;
}

/** The median beats in the rhythm's lead order, when there is one for every rhythm lead. */
function medianBeatsFor(
  medians: EcgWaveform | undefined,
  leads: readonly EcgLead[],
): EcgWaveform | undefined {
  if (!medians || medians.leads.length === 0) return undefined;
  const byName = new Map(medians.leads.map((lead) => [lead.name, lead]));
  const ordered = leads.map((lead) => byName.get(lead.name));
  if (ordered.some((lead) => lead === undefined)) return undefined;
  const present = ordered as EcgLead[];
  const count = Math.max(...present.map((lead) => lead.samples.length));
  if (count === 0) return undefined;
  return {
    samplingFrequencyHz: medians.samplingFrequencyHz,
    leads: present.map((lead) => {
      if (lead.samples.length === count) return lead;
      const padded = new Int32Array(count);
      padded.set(lead.samples);
      return { ...lead, samples: padded };
    }),
  };
}

function section3(leads: ReadonlyArray<{ samples: Int32Array; name: string }>): Uint8Array {
  const allSame = leads.every((lead) => lead.samples.length === leads[0]?.samples.length);
  // Flags: bit 2 all leads simultaneous, bits 3–7 how many are (the count saturates at 31).
  const flags = allSame ? 0x04 | (Math.min(leads.length, 31) << 3) : 0;
  const writer = new ByteWriter().u8(leads.length).u8(flags);
  for (const lead of leads) writer.u32(1).u32(lead.samples.length).u8(leadCode(lead.name));
  return writer.padToEven().toBytes();
}

/** Section 5 or 6: multiplier, interval, difference order, flag byte, byte counts, lead data. */
function leadDataSection(
  units: UnitSamples,
  samplingFrequencyHz: number,
  order: DifferenceOrder,
  compression: LeadCompression,
  flag: number,
  what: string,
): Uint8Array {
  const intervalUs = Math.round(1_000_000 / samplingFrequencyHz);
  if (
    !(intervalUs >= 1 && intervalUs <= MAX_UINT16) ||
    Math.abs(frequencyOf(intervalUs) - samplingFrequencyHz) > samplingFrequencyHz * 0.002
  ) {
    throw new ScpEcgError(
      SCP_ERROR_CODES.cannotEncode,
      `${what} sampling frequency ${samplingFrequencyHz} Hz has no whole-microsecond sample interval SCP-ECG can state`,
    );
  }
  const data = units.samples.map((samples) => encodeLeadData(samples, compression, order));
  data.forEach((bytes, index) => {
    if (bytes.length > MAX_UINT16) {
      throw new ScpEcgError(
        SCP_ERROR_CODES.cannotEncode,
        `${what} lead ${index + 1} needs ${bytes.length} bytes, more than SCP-ECG's 65535 per lead` +
          (compression === "none" ? "; Huffman compression would fit more" : "; the record is too long"),
      );
    }
  });
  const writer = new ByteWriter().u16(units.avmNanovolts).u16(intervalUs).u8(order).u8(flag);
  for (const bytes of data) writer.u16(bytes.length);
  for (const bytes of data) writer.bytes(bytes);
  return writer.padToEven().toBytes();
}

/** Sections in ID order after section 0, every one with its header and CRC, then the record CRC. */
export function assembleScpRecord(bodies: Map<number, Uint8Array>): Uint8Array {
  const section0Length = SECTION_HEADER_LENGTH + POINTER_COUNT * 10;
  const ids = [...bodies.keys()].sort((a, b) => a - b);
  const offsets = new Map<number, number>();
  let offset = RECORD_HEADER_LENGTH + section0Length;
  for (const id of ids) {
    offsets.set(id, offset);
    offset += SECTION_HEADER_LENGTH + (bodies.get(id)?.length ?? 0);
  }
  const recordLength = offset;
  const pointers = new ByteWriter();
  for (let id = 0; id < POINTER_COUNT; id++) {
    const body = bodies.get(id);
    if (id === 0)
      pointers
        .u16(0)
        .u32(section0Length)
        .u32(RECORD_HEADER_LENGTH + 1);
    else if (body)
      pointers
        .u16(id)
        .u32(SECTION_HEADER_LENGTH + body.length)
        .u32((offsets.get(id) ?? 0) + 1);
    else pointers.u16(id).u32(0).u32(0);
  }
  const record = new Uint8Array(recordLength);
  writeSection(record, RECORD_HEADER_LENGTH, 0, pointers.toBytes());
  for (const id of ids) writeSection(record, offsets.get(id) ?? 0, id, bodies.get(id) ?? new Uint8Array(0));
  const view = new DataView(record.buffer);
  view.setUint32(2, recordLength, true);
  view.setUint16(0, crcCcitt(record, 2, recordLength), true);
  return record;
}

function writeSection(record: Uint8Array, offset: number, id: number, body: Uint8Array): void {
  const length = SECTION_HEADER_LENGTH + body.length;
  const view = new DataView(record.buffer);
  view.setUint16(offset + 2, id, true);
  view.setUint32(offset + 4, length, true);
  record[offset + 8] = PROTOCOL_VERSION; // section version
  record[offset + 9] = PROTOCOL_VERSION; // protocol version
  if (id === 0) record.set(SCP_MARKER, offset + 10);
  record.set(body, offset + SECTION_HEADER_LENGTH);
  view.setUint16(offset, crcCcitt(record, offset + 2, offset + length), true);
}
