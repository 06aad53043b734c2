/**
 * The ECG IODs store samples as signed 16-bit (Waveform Sample Interpretation SS), an EcgRecord
 * holds them as Int32 in the device's units. Each lead gets its own Channel Sensitivity, so a lead
 * whose values fit 16 bits is stored exactly (sensitivity = its unit size). One that does not (a
 * 24-bit front end, a large offset) is divided by the smallest factor that makes it fit, and the
 * sensitivity multiplied by the same factor: the least loss possible in 16 bits, at most half the
 * new unit per sample, and said in a note.
 */
import { formatDs, formatDsAtLeast } from "./decimal-string.ts";

const INT16_MIN = -32768;
const INT16_MAX = 32767;

export interface FittedLead {
  /** The samples to store, all within the int16 range. */
  values: Int32Array;
  /** Channel Sensitivity in µV per stored unit, as written (DS). */
  sensitivityUv: string;
  /** Set when the lead had to be rescaled: what was done, without patient data. */
  note?: string;
}

export function fitLeadToInt16(leadLabel: string, samples: Int32Array, nanovoltsPerUnit: number): FittedLead {
  let min = 0;
  let max = 0;
  for (const value of samples) {
    if (value < min) min = value;
    if (value > max) max = value;
  }
  if (min >= INT16_MIN && max <= INT16_MAX) {
    return { values: samples, sensitivityUv: formatDs(nanovoltsPerUnit / 1000) };
  }
  const needed = Math.max(max / INT16_MAX, min / INT16_MIN);
  const sensitivityUv = formatDsAtLeast((nanovoltsPerUnit * needed) / 1000);
  // The factor the written sensitivity implies (≥ needed), so stored × sensitivity is the value.
  const factor = (Number(sensitivityUv) * 1000) / nanovoltsPerUnit;
  const values = new Int32Array(samples.length);
  for (let index = 0; index < samples.length; index += 1) {
    const scaled = Math.round((samples[index] ?? 0) / factor);
    values[index] = Math.min(INT16_MAX, Math.max(INT16_MIN, scaled));
  }
  const original = formatDs(nanovoltsPerUnit / 1000);
  const error = formatDs(Number(sensitivityUv) / 2);
  return {
    values,
    sensitivityUv,
    note: `${leadLabel}: values beyond 16 bits, stored at ${sensitivityUv} µV per unit instead of ${original} µV (rounding error at most ${error} µV)`,
  };
}
