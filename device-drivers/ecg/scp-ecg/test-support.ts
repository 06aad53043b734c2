/**
 * Test helpers: generated ECG records (no shared data needed) and hand-built SCP-ECG records for
 * the layouts our encoder does not write (custom Huffman tables, reference beat subtraction,
 * bimodal compression, broken structures).
 */
import { join } from "node:path";
import type { EcgLead, EcgRecord } from "../ecg-record.ts";
import { ByteWriter } from "./bytes.ts";
import { crcCcitt } from "./crc.ts";
import { assembleScpRecord } from "./encode.ts";

export const repoRoot = join(import.meta.dirname, "..", "..", "..");
export const sharedDataDir = join(repoRoot, "..", "shared", "data");

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TWELVE = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"];

/**
 * An ECG-like rhythm: beats at ~72/min with P, QRS and T bumps scaled per lead, baseline wander
 * and a little noise, in units of `nanovoltsPerUnit` (default 2500 nV = 2.5 µV).
 */
export function syntheticLeads(options: {
  names?: readonly string[];
  seconds?: number;
  samplingFrequencyHz?: number;
  nanovoltsPerUnit?: number;
  seed?: number;
}): EcgLead[] {
  const names = options.names ?? TWELVE;
  const fs = options.samplingFrequencyHz ?? 500;
  const count = Math.round((options.seconds ?? 2) * fs);
  const unit = options.nanovoltsPerUnit ?? 2500;
  const random = seededRandom(options.seed ?? 1);
  const toUnits = (microvolts: number) => Math.round((microvolts * 1000) / unit);
  const bump = (t: number, centre: number, width: number) => Math.exp(-(((t - centre) / width) ** 2));
  return names.map((name, leadIndex) => {
    const gain = 0.4 + ((leadIndex * 37) % 11) / 8;
    const polarity = name === "aVR" ? -1 : 1;
    const samples = new Int32Array(count);
    for (let index = 0; index < count; index++) {
      const t = index / fs;
      const phase = t % 0.83;
      const microvolts =
        polarity *
          gain *
          (120 * bump(phase, 0.15, 0.03) +
            1000 * bump(phase, 0.3, 0.012) -
            200 * bump(phase, 0.32, 0.01) +
            300 * bump(phase, 0.55, 0.05)) +
        80 * Math.sin(2 * Math.PI * 0.3 * t + leadIndex) +
        (random() - 0.5) * 6;
      samples[index] = toUnits(microvolts);
    }
    return { name, samples, nanovoltsPerUnit: unit };
  });
}

export function syntheticRecord(
  overrides: Partial<EcgRecord> = {},
  leads: EcgLead[] = syntheticLeads({}),
): EcgRecord {
  return {
    source: { format: "synthetic" },
    patient: {},
    acquisition: {},
    rhythm: { samplingFrequencyHz: 500, leads },
    ...overrides,
  };
}

/** A complete record from section bodies (section 0 and all CRCs computed). */
export function recordFromSections(bodies: Record<number, Uint8Array>): Uint8Array {
  return assembleScpRecord(new Map(Object.entries(bodies).map(([id, body]) => [Number(id), body])));
}

/** Section 3 body: leads over the given 1-based sample ranges. */
export function section3Body(
  leads: ReadonlyArray<{ code: number; first: number; last: number }>,
  flags = 0x04,
): Uint8Array {
  const writer = new ByteWriter().u8(leads.length).u8(flags);
  for (const lead of leads) writer.u32(lead.first).u32(lead.last).u8(lead.code);
  return writer.padToEven().toBytes();
}

/** Section 5/6 body from each lead's already-encoded bytes. */
export function leadDataBody(
  header: { avm: number; intervalUs: number; difference: number; flag?: number },
  data: readonly Uint8Array[],
): Uint8Array {
  const writer = new ByteWriter()
    .u16(header.avm)
    .u16(header.intervalUs)
    .u8(header.difference)
    .u8(header.flag ?? 0);
  for (const bytes of data) writer.u16(bytes.length);
  for (const bytes of data) writer.bytes(bytes);
  return writer.padToEven().toBytes();
}

/** 16-bit little-endian bytes of values (uncompressed lead data). */
export function int16Bytes(values: ArrayLike<number>): Uint8Array {
  const writer = new ByteWriter();
  for (let index = 0; index < values.length; index++) writer.i16(values[index] ?? 0);
  return writer.toBytes();
}

/** Recomputes the record CRC after a test changed bytes on purpose. */
export function fixRecordCrc(record: Uint8Array): Uint8Array {
  const fixed = record.slice();
  const crc = crcCcitt(fixed, 2, fixed.length);
  fixed[0] = crc & 0xff;
  fixed[1] = crc >> 8;
  return fixed;
}

/** Recomputes a section's CRC (section starting at `offset`) and then the record's. */
export function fixSectionCrc(record: Uint8Array, offset: number): Uint8Array {
  const fixed = record.slice();
  const length = new DataView(fixed.buffer).getUint32(offset + 4, true);
  const crc = crcCcitt(fixed, offset + 2, offset + length);
  fixed[offset] = crc & 0xff;
  fixed[offset + 1] = crc >> 8;
  return fixRecordCrc(fixed);
}

/** Where section `id` starts in an encoded record (from its section 0 pointer). */
export function sectionOffset(record: Uint8Array, id: number): number {
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  for (let pointer = 6 + 16; pointer + 10 <= 6 + view.getUint32(10, true); pointer += 10) {
    if (view.getUint16(pointer, true) === id && view.getUint32(pointer + 2, true) > 0) {
      return view.getUint32(pointer + 6, true) - 1;
    }
  }
  throw new Error(`section ${id} not in the record`);
}
