/**
 * Sections 3–6, the signal (EN 1064 5.6–5.9):
 * - 3 lead definition: lead count, flags (bit 0 reference beat subtraction used, bit 2 all leads
 *   simultaneous, bits 3–7 how many), and per lead its first and last sample number (1-based) and
 *   lead code;
 * - 4 QRS locations: reference beat length (ms), fiducial sample in the reference beat, QRS count,
 *   per QRS its beat type and subtraction zone (start, fiducial, end; 1-based rhythm samples), then
 *   per QRS a protected zone (start, end) used by bimodal compression;
 * - 5 reference beats and 6 rhythm: amplitude value multiplier (nV per unit), sample interval (µs),
 *   difference encoding, (section 6:) bimodal flag, a 2-byte byte count per lead, then each lead's
 *   data.
 *
 * Here the sections are only read; reconstruction is in rhythm-reconstruction.ts.
 */
import type { ByteWindow } from "./bytes.ts";
import { SCP_ERROR_CODES, ScpEcgError } from "./errors.ts";
import { type DifferenceOrder, differenceOrder } from "./lead-data.ts";

export interface LeadDefinition {
  code: number;
  /** 1-based sample numbers, inclusive. */
  firstSample: number;
  lastSample: number;
}

export interface LeadDefinitions {
  leads: LeadDefinition[];
  referenceBeatSubtraction: boolean;
  simultaneous: boolean;
}

export function readSection3(body: ByteWindow): LeadDefinitions {
  const count = body.u8(0, "number of leads");
  const flags = body.u8(1, "lead flags");
  body.require(2, count * 9, `${count} lead definitions of 9 bytes`);
  const leads: LeadDefinition[] = [];
  for (let lead = 0; lead < count; lead++) {
    const at = 2 + lead * 9;
    const firstSample = body.u32(at, "first sample");
    const lastSample = body.u32(at + 4, "last sample");
    const code = body.u8(at + 8, "lead code");
    if (firstSample < 1 || lastSample < firstSample) {
      throw new ScpEcgError(
        SCP_ERROR_CODES.malformed,
        `section 3 lead ${lead + 1}: samples ${firstSample}–${lastSample} is not a range of 1-based sample numbers`,
      );
    }
    leads.push({ code, firstSample, lastSample });
  }
  return { leads, referenceBeatSubtraction: (flags & 0x01) !== 0, simultaneous: (flags & 0x04) !== 0 };
}

export interface QrsComplex {
  beatType: number;
  /** Subtraction zone, 1-based rhythm sample numbers. */
  start: number;
  fiducial: number;
  end: number;
}

export interface QrsLocations {
  referenceBeatLengthMs: number;
  /** Sample number (1-based) of the fiducial point within the reference beat. */
  referenceFiducial: number;
  complexes: QrsComplex[];
  /** Protected zones (1-based, inclusive), when the section has them. */
  protectedZones?: Array<{ start: number; end: number }>;
}

export function readSection4(body: ByteWindow): QrsLocations {
  const referenceBeatLengthMs = body.u16(0, "reference beat length");
  const referenceFiducial = body.u16(2, "reference beat fiducial");
  const count = body.u16(4, "number of QRS complexes");
  body.require(6, count * 14, `${count} QRS subtraction zones of 14 bytes`);
  const complexes: QrsComplex[] = [];
  for (let index = 0; index < count; index++) {
    const at = 6 + index * 14;
    complexes.push({
      beatType: body.u16(at, "beat type"),
      start: body.u32(at + 2, "subtraction zone start"),
      fiducial: body.u32(at + 6, "QRS fiducial"),
      end: body.u32(at + 10, "subtraction zone end"),
    });
  }
  const locations: QrsLocations = { referenceBeatLengthMs, referenceFiducial, complexes };
  const zonesAt = 6 + count * 14;
  if (count > 0 && body.length >= zonesAt + count * 8) {
    const zones: Array<{ start: number; end: number }> = [];
    for (let index = 0; index < count; index++) {
      const start = body.u32(zonesAt + index * 8, "protected zone start");
      const end = body.u32(zonesAt + index * 8 + 4, "protected zone end");
      if (start >= 1 && end >= start) zones.push({ start, end });
    }
    zones.sort((a, b) => a.start - b.start);
    locations.protectedZones = zones;
  }
  return locations;
}

export interface EncodedLeads {
  /** Amplitude value multiplier: nanovolts per unit. */
  avmNanovolts: number;
  sampleIntervalUs: number;
  difference: DifferenceOrder;
  /** Section 6 only. */
  bimodal: boolean;
  /** Each lead's bytes, in section 3 order. */
  data: Uint8Array[];
}

/** Reads section 5 or 6 for `leadCount` leads (from section 3). */
export function readEncodedLeads(body: ByteWindow, leadCount: number, sectionId: 5 | 6): EncodedLeads {
  const context = `section ${sectionId}`;
  const avmNanovolts = body.u16(0, "amplitude value multiplier");
  const sampleIntervalUs = body.u16(2, "sample time interval");
  const difference = differenceOrder(body.u8(4, "difference encoding"), context);
  const flag = body.u8(5, sectionId === 6 ? "bimodal compression" : "reserved");
  if (avmNanovolts === 0 || sampleIntervalUs === 0) {
    throw new ScpEcgError(
      SCP_ERROR_CODES.malformed,
      `${context}: amplitude multiplier ${avmNanovolts} nV and sample interval ${sampleIntervalUs} µs must both be positive`,
    );
  }
  body.require(6, leadCount * 2, `${leadCount} lead byte counts`);
  const data: Uint8Array[] = [];
  let offset = 6 + leadCount * 2;
  for (let lead = 0; lead < leadCount; lead++) {
    const byteCount = body.u16(6 + lead * 2, "lead byte count");
    if (offset + byteCount > body.length) {
      throw new ScpEcgError(
        SCP_ERROR_CODES.truncated,
        `${context}: lead ${lead + 1} states ${byteCount} bytes from byte ${offset}, past the section's ${body.length}`,
      );
    }
    data.push(body.slice(offset, byteCount, `lead ${lead + 1} data`));
    offset += byteCount;
  }
  return { avmNanovolts, sampleIntervalUs, difference, bimodal: sectionId === 6 && flag === 1, data };
}
