/**
 * From sections 2–6 to waveforms: decode each lead (Huffman or plain, undo the differences), undo
 * bimodal compression (interpolate the decimated stretches back to the full rate), add the
 * reference beat back into each subtraction zone, and lay the leads on one timeline.
 *
 * Bimodal compression (EN 1064 5.9.3): outside the protected zones of section 4 the residual
 * signal is stored at a lower rate — one value, the average of `factor` consecutive samples, per
 * block; inside them at the full rate (the reference beats' rate, section 5). Decoding walks the
 * lead with the same blocks, puts each average at the centre of its block and interpolates linearly
 * between neighbouring values (the protected samples included), which returns a straight line
 * exactly and anything else within the decimation's own smoothing.
 */
import type { EcgLead, EcgWaveform } from "../ecg-record.ts";
import { SCP_ERROR_CODES, ScpEcgError } from "./errors.ts";
import type { HuffmanCoding } from "./huffman.ts";
import { leadName } from "./lead-codes.ts";
import { decodeLeadData } from "./lead-data.ts";
import type { EncodedLeads, LeadDefinitions, QrsLocations } from "./signal-sections.ts";

export interface SignalSections {
  leads: LeadDefinitions;
  coding: HuffmanCoding;
  rhythm?: EncodedLeads;
  qrs?: QrsLocations;
  reference?: EncodedLeads;
}

export interface DecodedSignal {
  rhythm: EcgWaveform;
  medianBeats?: EcgWaveform;
  notes: string[];
}

/** Largest bimodal decimation factor accepted (the standard's examples use 2 and 4). */
const MAX_BIMODAL_FACTOR = 16;

export function decodeSignal(sections: SignalSections): DecodedSignal {
  const { leads, coding, rhythm, qrs, reference } = sections;
  if (!rhythm) {
    throw new ScpEcgError(
      SCP_ERROR_CODES.unsupported,
      "the record has no rhythm data (section 6); nothing to show",
    );
  }
  if (leads.leads.length === 0)
    throw new ScpEcgError(SCP_ERROR_CODES.malformed, "section 3 defines no leads");
  const notes: string[] = [];
  const names = uniqueNames(leads.leads.map((lead) => leadName(lead.code)));
  const needsReference = leads.referenceBeatSubtraction || rhythm.bimodal;
  let medians: Int32Array[] | undefined;
  try {
    medians = reference ? decodeReferenceBeats(reference, coding, qrs, notes) : undefined;
  } catch (error) {
    // Reference beats the rhythm does not depend on are a bonus: losing them must not lose the ECG.
    if (needsReference || !(error instanceof ScpEcgError)) throw error;
    notes.push(`reference beats (section 5) not decoded: ${error.message}`);
  }

  let fullIntervalUs = rhythm.sampleIntervalUs;
  let factor = 1;
  if (rhythm.bimodal) {
    if (!reference || !qrs?.protectedZones) {
      throw new ScpEcgError(
        SCP_ERROR_CODES.unsupported,
        "section 6 uses bimodal compression but the record lacks the reference beat rate (section 5) or protected zones (section 4)",
      );
    }
    factor = rhythm.sampleIntervalUs / reference.sampleIntervalUs;
    if (!Number.isInteger(factor) || factor < 1 || factor > MAX_BIMODAL_FACTOR) {
      throw new ScpEcgError(
        SCP_ERROR_CODES.unsupported,
        `bimodal compression from ${reference.sampleIntervalUs} µs to ${rhythm.sampleIntervalUs} µs is not a whole factor of 1–${MAX_BIMODAL_FACTOR}`,
      );
    }
    fullIntervalUs = reference.sampleIntervalUs;
  }

  const shortfalls: Array<{ name: string; present: number; declared: number }> = [];
  const samples = leads.leads.map((definition, index) => {
    const data = rhythm.data[index] ?? new Uint8Array(0);
    const declared = definition.lastSample - definition.firstSample + 1;
    // Each stored value takes at least one bit and stands for at most `factor` samples.
    const possible = coding.kind === "none" ? Math.floor(data.length / 2) * factor : data.length * 8 * factor;
    const length = Math.min(declared, possible);
    let lead: Int32Array;
    if (factor > 1 && qrs?.protectedZones) {
      const zones = qrs.protectedZones;
      const count = storedValueCount(definition.firstSample, length, zones, factor);
      const stored = decodeLeadData(data, coding, rhythm.difference, count);
      lead = expandBimodal(stored, definition.firstSample, length, zones, factor);
    } else {
      lead = decodeLeadData(data, coding, rhythm.difference, length);
    }
    if (lead.length < declared) shortfalls.push({ name: names[index] ?? "", present: lead.length, declared });
    return lead;
  });
  if (shortfalls.length > 0) notes.push(describeShortfalls(shortfalls, leads.leads.length));

  if (leads.referenceBeatSubtraction) {
    addReferenceBeats(samples, leads, rhythm.avmNanovolts, fullIntervalUs, qrs, reference, medians);
  }

  const samplingFrequencyHz = frequencyOf(fullIntervalUs);
  const placed = placeOnTimeline(samples, leads, names, notes);
  const rhythmWaveform: EcgWaveform = {
    samplingFrequencyHz,
    leads: placed.map((leadSamples, index) => lead(names[index] ?? "", leadSamples, rhythm.avmNanovolts)),
  };
  const result: DecodedSignal = { rhythm: rhythmWaveform, notes };
  if (medians && reference) {
    result.medianBeats = {
      samplingFrequencyHz: frequencyOf(reference.sampleIntervalUs),
      leads: medians.map((leadSamples, index) =>
        lead(names[index] ?? "", leadSamples, reference.avmNanovolts),
      ),
    };
  }
  return result;
}

function lead(name: string, samples: Int32Array, nanovoltsPerUnit: number): EcgLead {
  return { name, samples, nanovoltsPerUnit };
}

/** E.g. "section 6 is shorter than section 3 states: all 12 leads hold 32767 of the 37855 samples; …". */
function describeShortfalls(
  shortfalls: Array<{ name: string; present: number; declared: number }>,
  leadCount: number,
): string {
  const first = shortfalls[0];
  const uniform = shortfalls.every(
    (item) => item.present === first?.present && item.declared === first?.declared,
  );
  const what =
    uniform && first
      ? `${shortfalls.length === leadCount ? `all ${leadCount} leads hold` : `${shortfalls.map((item) => item.name).join(", ")} hold`} ${first.present} of the ${first.declared} samples`
      : `${shortfalls.map((item) => `${item.name} holds ${item.present} of ${item.declared}`).join(", ")} samples`;
  return `section 6 is shorter than section 3 states: ${what}; the data ends there`;
}

/** Two leads with the same code (or unknown codes) still need distinct names. */
function uniqueNames(names: string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((name) => {
    const count = (seen.get(name) ?? 0) + 1;
    seen.set(name, count);
    return count === 1 ? name : `${name} (${count})`;
  });
}

/** Sample interval in µs → Hz; whole hertz when the interval is the rounded one of a whole rate (2778 µs → 360 Hz). */
export function frequencyOf(intervalUs: number): number {
  const exact = 1_000_000 / intervalUs;
  const whole = Math.round(exact);
  if (Math.abs(exact - whole) / exact < 0.002) return whole;
  return Math.round(exact * 100) / 100;
}

function decodeReferenceBeats(
  reference: EncodedLeads,
  coding: HuffmanCoding,
  qrs: QrsLocations | undefined,
  notes: string[],
): Int32Array[] | undefined {
  let count: number;
  if (qrs && qrs.referenceBeatLengthMs > 0) {
    count = Math.round((qrs.referenceBeatLengthMs * 1000) / reference.sampleIntervalUs);
  } else if (coding.kind === "none") {
    count = Math.max(...reference.data.map((data) => Math.floor(data.length / 2)));
  } else {
    notes.push("reference beats (section 5) not decoded: their length is given nowhere (no section 4)");
    return undefined;
  }
  const beats = reference.data.map((data) => decodeLeadData(data, coding, reference.difference, count));
  // Pad short beats only to the longest one decoded: `count` comes from a header, not from the data.
  const longest = Math.max(0, ...beats.map((beat) => beat.length));
  if (longest < count)
    notes.push(`reference beats hold ${longest} of the ${count} samples section 4 implies`);
  if (beats.some((beat) => beat.length < longest))
    notes.push("some reference beats are shorter than others; padded with zeros");
  return beats.map((beat) => {
    if (beat.length === longest) return beat;
    const padded = new Int32Array(longest);
    padded.set(beat);
    return padded;
  });
}

/** How many values a bimodally compressed lead stores (see expandBimodal for the walk). */
export function storedValueCount(
  firstSample: number,
  length: number,
  zones: ReadonlyArray<{ start: number; end: number }>,
  factor: number,
): number {
  let count = 0;
  walkBimodal(firstSample, length, zones, factor, () => {
    count++;
    return true;
  });
  return count;
}

/**
 * Visits the lead's stored values in order: `blockLength` 0 for a protected (full-rate) sample at
 * `position`, otherwise a decimated block of that many samples starting there. Positions are
 * 0-based within the lead. The visitor returns false to stop.
 */
function walkBimodal(
  firstSample: number,
  length: number,
  zones: ReadonlyArray<{ start: number; end: number }>,
  factor: number,
  visit: (position: number, blockLength: number) => boolean,
): void {
  let zone = 0;
  let position = 0;
  while (position < length) {
    const sample = firstSample + position;
    while (zone < zones.length && (zones[zone]?.end ?? 0) < sample) zone++;
    const current = zones[zone];
    if (current && current.start <= sample) {
      if (!visit(position, 0)) return;
      position++;
      continue;
    }
    const untilZone = current ? current.start - sample : Number.POSITIVE_INFINITY;
    const blockLength = Math.min(factor, untilZone, length - position);
    if (!visit(position, blockLength)) return;
    position += blockLength;
  }
}

/** Full-rate samples from bimodally stored values; shorter than `length` if the values run out. */
export function expandBimodal(
  stored: Int32Array,
  firstSample: number,
  length: number,
  zones: ReadonlyArray<{ start: number; end: number }>,
  factor: number,
): Int32Array {
  const anchorPositions: number[] = [];
  const anchorValues: number[] = [];
  const exact: Array<number | undefined> = [];
  let next = 0;
  let covered = 0;
  walkBimodal(firstSample, length, zones, factor, (position, blockLength) => {
    if (next >= stored.length) return false;
    const value = stored[next++] ?? 0;
    if (blockLength === 0) {
      exact[position] = value;
      anchorPositions.push(position);
      covered = position + 1;
    } else {
      anchorPositions.push(position + (blockLength - 1) / 2);
      covered = position + blockLength;
    }
    anchorValues.push(value);
    return true;
  });
  const samples = new Int32Array(covered);
  let anchor = 0;
  for (let position = 0; position < covered; position++) {
    const known = exact[position];
    if (known !== undefined) {
      samples[position] = known;
      continue;
    }
    while (anchor + 1 < anchorPositions.length && (anchorPositions[anchor + 1] ?? 0) <= position) anchor++;
    const leftPosition = anchorPositions[anchor] ?? 0;
    const leftValue = anchorValues[anchor] ?? 0;
    const rightPosition = anchorPositions[anchor + 1];
    const rightValue = anchorValues[anchor + 1];
    if (position <= leftPosition || rightPosition === undefined || rightValue === undefined) {
      samples[position] = leftValue;
    } else {
      const weight = (position - leftPosition) / (rightPosition - leftPosition);
      samples[position] = Math.round(leftValue + (rightValue - leftValue) * weight);
    }
  }
  return samples;
}

function addReferenceBeats(
  samples: Int32Array[],
  leads: LeadDefinitions,
  rhythmAvmNanovolts: number,
  fullIntervalUs: number,
  qrs: QrsLocations | undefined,
  reference: EncodedLeads | undefined,
  medians: Int32Array[] | undefined,
): void {
  if (!qrs || !reference || !medians) {
    throw new ScpEcgError(
      SCP_ERROR_CODES.unsupported,
      "section 3 says reference beats were subtracted from the rhythm, but the QRS locations (section 4) or reference beats (section 5) are missing or unreadable",
    );
  }
  if (reference.sampleIntervalUs !== fullIntervalUs) {
    throw new ScpEcgError(
      SCP_ERROR_CODES.unsupported,
      `reference beats sampled every ${reference.sampleIntervalUs} µs cannot be added back to rhythm data sampled every ${fullIntervalUs} µs`,
    );
  }
  // The subtraction happened in one unit; when the two sections state different multipliers the
  // reference beat is brought to the rhythm's (the rhythm keeps its own resolution).
  const scale = reference.avmNanovolts / rhythmAvmNanovolts;
  for (const complex of qrs.complexes) {
    // Only beats of the reference type (0) had the reference beat subtracted.
    if (complex.beatType !== 0) continue;
    leads.leads.forEach((definition, index) => {
      const lead = samples[index];
      const median = medians[index];
      if (!lead || !median) return;
      let position = complex.start - definition.firstSample;
      let medianPosition = qrs.referenceFiducial - complex.fiducial + complex.start - 1;
      const last = Math.min(complex.end - definition.firstSample, lead.length - 1);
      for (; position <= last && medianPosition < median.length; position++, medianPosition++) {
        if (position < 0 || medianPosition < 0) continue;
        const added =
          scale === 1 ? (median[medianPosition] ?? 0) : Math.round((median[medianPosition] ?? 0) * scale);
        lead[position] = (lead[position] ?? 0) + added;
      }
    });
  }
}

/**
 * All leads on one timeline from the earliest first sample: leads recorded over other samples
 * (e.g. three groups of four leads, 2.5 s each) are zero outside their own stretch, and a note says
 * so. Refuses stated ranges that leave more empty timeline than data.
 */
function placeOnTimeline(
  samples: Int32Array[],
  leads: LeadDefinitions,
  names: string[],
  notes: string[],
): Int32Array[] {
  const starts = leads.leads.map((lead) => lead.firstSample);
  const firstStart = Math.min(...starts);
  const sameStart = starts.every((start) => start === firstStart);
  const lengths = samples.map((lead) => lead.length);
  const longest = Math.max(...lengths);
  if (sameStart && lengths.every((length) => length === longest)) return samples;
  const ends = samples.map((lead, index) => (starts[index] ?? 1) - firstStart + lead.length);
  const timeline = Math.max(...ends);
  const total = lengths.reduce((sum, length) => sum + length, 0);
  if (timeline > total) {
    throw new ScpEcgError(
      SCP_ERROR_CODES.malformed,
      `section 3's lead ranges span ${timeline} samples but the leads hold only ${total}: the sample numbers are not plausible`,
    );
  }
  if (!sameStart) {
    const ranges = leads.leads.map(
      (lead, index) => `${names[index]} ${lead.firstSample}–${lead.firstSample + (lengths[index] ?? 0) - 1}`,
    );
    notes.push(
      `leads were not all recorded over the same samples (${ranges.join(", ")}); each is zero outside its own stretch`,
    );
  } else {
    notes.push("leads hold different numbers of samples; the shorter ones are zero-filled to the longest");
  }
  return samples.map((lead, index) => {
    const placed = new Int32Array(timeline);
    placed.set(lead, (starts[index] ?? firstStart) - firstStart);
    return placed;
  });
}
