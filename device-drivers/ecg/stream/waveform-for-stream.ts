/**
 * Puts any ECG waveform into the shape a stream profile sends: its leads (III, aVR, aVL, aVF
 * derived from I and II when the profile sends them and the source lacks them), its sampling rate
 * (linear interpolation) and its unit size, clipped to the sample width. The simulator uses it to
 * play a WFDB, DICOM, SCP-ECG or XML ECG as a module would.
 */
import { DxgateError } from "../../../common/errors.ts";
import { withDerivedLimbLeads } from "../derive-leads.ts";
import type { EcgLead, EcgWaveform } from "../ecg-record.ts";
import { type StreamProtocolSettings, sampleLimits } from "./settings.ts";

export interface StreamWaveform {
  waveform: EcgWaveform;
  /** Samples that did not fit the sample width and were clipped to its limit. */
  clippedSamples: number;
}

export function waveformForStream(source: EcgWaveform, settings: StreamProtocolSettings): StreamWaveform {
  const complete = withDerivedLimbLeads(source);
  const byName = new Map(complete.leads.map((lead) => [lead.name, lead]));
  const missing = settings.leads.filter((name) => !byName.has(name));
  if (missing.length > 0) {
    throw new DxgateError(
      "ECG_STREAM_WAVEFORM_MISMATCH",
      `the source has no lead ${missing.join(", ")} (it has ${complete.leads.map((lead) => lead.name).join(", ")})`,
    );
  }
  const { min, max } = sampleLimits(settings);
  let clippedSamples = 0;
  const leads: EcgLead[] = settings.leads.map((name) => {
    const lead = byName.get(name)!;
    const samples = resample(lead.samples, complete.samplingFrequencyHz, settings.samplingFrequencyHz);
    const scale = lead.nanovoltsPerUnit / settings.nanovoltsPerUnit;
    const out = new Int32Array(samples.length);
    for (let k = 0; k < samples.length; k++) {
      const value = Math.round((samples[k] ?? 0) * scale);
      if (value < min || value > max) clippedSamples += 1;
      out[k] = Math.min(max, Math.max(min, value));
    }
    return { name, samples: out, nanovoltsPerUnit: settings.nanovoltsPerUnit };
  });
  return { waveform: { samplingFrequencyHz: settings.samplingFrequencyHz, leads }, clippedSamples };
}

/** Linear interpolation onto the new rate (unrounded; the caller scales and rounds once). */
function resample(samples: Int32Array, fromHz: number, toHz: number): Float64Array {
  if (fromHz === toHz) return Float64Array.from(samples);
  const count = Math.round((samples.length * toHz) / fromHz);
  const out = new Float64Array(count);
  const last = samples.length - 1;
  for (let k = 0; k < count; k++) {
    const position = (k * fromHz) / toHz;
    const below = Math.min(Math.floor(position), last);
    const above = Math.min(below + 1, last);
    const fraction = position - below;
    out[k] = (samples[below] ?? 0) * (1 - fraction) + (samples[above] ?? 0) * fraction;
  }
  return out;
}

/** A waveform cut to [start, start + count) samples, looping over the source when it is shorter. */
export function loopedSlice(waveform: EcgWaveform, start: number, count: number): EcgWaveform {
  return {
    samplingFrequencyHz: waveform.samplingFrequencyHz,
    leads: waveform.leads.map((lead) => {
      const out = new Int32Array(count);
      const length = lead.samples.length;
      if (length === 0) {
        throw new DxgateError("ECG_STREAM_WAVEFORM_EMPTY", `lead ${lead.name} has no samples`);
      }
      for (let k = 0; k < count; k++) out[k] = lead.samples[(start + k) % length] ?? 0;
      return { ...lead, samples: out };
    }),
  };
}
