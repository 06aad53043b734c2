/**
 * A synthetic resting ECG: P-QRS-T beats at a given heart rate, each wave a Gaussian bump with a
 * typical amplitude per lead (a normal sinus rhythm with a normal axis). I, II and V1–V6 are
 * generated; III, aVR, aVL and aVF follow from I and II by the same formulas the box uses to derive
 * them, so a 12-lead synthetic ECG sent as 8 leads comes back identical.
 *
 * Deterministic: the same options give the same samples (optional noise comes from a seeded
 * generator). It carries no patient unless one is given. Tests and the simulator use it.
 */
import { withDerivedLimbLeads } from "../derive-leads.ts";
import {
  type EcgLead,
  type EcgRecord,
  type EcgWaveform,
  INDEPENDENT_8_LEADS,
  type LeadName,
  STANDARD_12_LEADS,
} from "../ecg-record.ts";

export interface SyntheticEcgOptions {
  /** Beats per minute (default 72). */
  heartRateBpm?: number;
  /** Length of the rhythm strip (default 10 s). */
  seconds?: number;
  /** Default 500 Hz. */
  samplingFrequencyHz?: number;
  /** Unit size (default 1000 nV = 1 µV per unit). */
  nanovoltsPerUnit?: number;
  /** "12" (default) or "8" (I, II, V1–V6, as a module that leaves derivation to the box sends). */
  leadSet?: "12" | "8";
  /** Gaussian noise added to each measured lead, in µV RMS (default 0: clean). */
  noiseMicrovolts?: number;
  /** Seed of the noise generator (default 1). */
  seed?: number;
  /** Also produce one representative beat (1.2 s) as `medianBeats`, as carts report it. */
  medianBeats?: boolean;
  /** The patient to put in the record (default none). */
  patient?: EcgRecord["patient"];
  /** Acquisition fields to put in the record (default: manufacturer "dxgate", model "synthetic ECG"). */
  acquisition?: EcgRecord["acquisition"];
}

type MeasuredLead = (typeof INDEPENDENT_8_LEADS)[number];

interface Wave {
  /** Centre relative to the R peak, in seconds at 60 bpm (scaled with the RR interval for P and T). */
  at: number;
  /** Width (standard deviation), in seconds. */
  width: number;
  /** Peak amplitude in millivolts, per measured lead. */
  mV: Record<MeasuredLead, number>;
  /** Whether the wave moves with the RR interval (P before, T after the QRS; QT shortens with rate). */
  scales: boolean;
}

// Amplitudes of a normal adult ECG (normal axis, R-wave progression V1 → V5).
const WAVES: Wave[] = [
  {
    at: -0.17,
    width: 0.022,
    scales: true,
    mV: { I: 0.08, II: 0.14, V1: 0.05, V2: 0.07, V3: 0.08, V4: 0.09, V5: 0.09, V6: 0.07 },
  },
  {
    at: -0.028,
    width: 0.007,
    scales: false,
    mV: { I: -0.05, II: -0.08, V1: 0, V2: 0, V3: -0.03, V4: -0.06, V5: -0.09, V6: -0.08 },
  },
  {
    at: 0,
    width: 0.009,
    scales: false,
    mV: { I: 0.75, II: 1.15, V1: 0.22, V2: 0.55, V3: 0.95, V4: 1.45, V5: 1.3, V6: 1.0 },
  },
  {
    at: 0.03,
    width: 0.009,
    scales: false,
    mV: { I: -0.12, II: -0.22, V1: -0.95, V2: -1.35, V3: -0.8, V4: -0.4, V5: -0.22, V6: -0.12 },
  },
  {
    at: 0.3,
    width: 0.055,
    scales: true,
    mV: { I: 0.22, II: 0.3, V1: -0.08, V2: 0.35, V3: 0.42, V4: 0.4, V5: 0.34, V6: 0.25 },
  },
];

/** Seconds before the first R peak (room for the first P wave). */
const FIRST_R = 0.35;

export function generateSyntheticEcg(options: SyntheticEcgOptions = {}): EcgRecord {
  const heartRateBpm = options.heartRateBpm ?? 72;
  const seconds = options.seconds ?? 10;
  const rate = options.samplingFrequencyHz ?? 500;
  const nanovoltsPerUnit = options.nanovoltsPerUnit ?? 1000;
  if (!(heartRateBpm >= 20 && heartRateBpm <= 300)) throw new RangeError(`heart rate ${heartRateBpm} bpm`);
  if (!(seconds > 0 && rate > 0 && nanovoltsPerUnit > 0)) throw new RangeError("seconds, rate and unit size");
  const rr = 60 / heartRateBpm;
  const count = Math.round(seconds * rate);
  const beats: number[] = [];
  for (let r = FIRST_R; r < seconds + 1; r += rr) beats.push(r);
  const noise = gaussianNoise(options.seed ?? 1, (options.noiseMicrovolts ?? 0) * 1000);
  const rhythm = buildWaveform(count, rate, nanovoltsPerUnit, rr, beats, noise, options.leadSet ?? "12");
  const record: EcgRecord = {
    source: { format: "synthetic" },
    patient: { ...options.patient },
    acquisition: { manufacturer: "dxgate", model: "synthetic ECG", ...options.acquisition },
    rhythm,
    measurements: { heartRateBpm, rrIntervalMs: Math.round(rr * 1000) },
  };
  if (options.medianBeats) {
    const beatSamples = Math.round(1.2 * rate);
    // One beat, R peak at 0.5 s of the 1.2 s window, without noise.
    record.medianBeats = buildWaveform(
      beatSamples,
      rate,
      nanovoltsPerUnit,
      rr,
      [0.5],
      () => 0,
      options.leadSet ?? "12",
    );
  }
  return record;
}

function buildWaveform(
  count: number,
  rate: number,
  nanovoltsPerUnit: number,
  rr: number,
  beats: number[],
  noise: () => number,
  leadSet: "12" | "8",
): EcgWaveform {
  // T waves come closer to the QRS as the rate rises (Bazett: QT ∝ √RR).
  const stretch = Math.sqrt(rr);
  const measured: EcgLead[] = INDEPENDENT_8_LEADS.map((name) => {
    const samples = new Int32Array(count);
    for (let k = 0; k < count; k++) {
      const t = k / rate;
      let nanovolts = 0;
      for (const r of beats) {
        if (Math.abs(t - r) > 1) continue;
        for (const wave of WAVES) {
          const centre = r + (wave.scales ? wave.at * stretch : wave.at);
          const z = (t - centre) / wave.width;
          nanovolts += wave.mV[name] * 1e6 * Math.exp(-0.5 * z * z);
        }
      }
      samples[k] = Math.round((nanovolts + noise()) / nanovoltsPerUnit);
    }
    return { name, samples, nanovoltsPerUnit };
  });
  const eight: EcgWaveform = { samplingFrequencyHz: rate, leads: measured };
  if (leadSet === "8") return eight;
  const twelve = withDerivedLimbLeads(eight);
  // The generator computed them: they are part of the synthetic device's output, not box-derived.
  const leads = twelve.leads.map(({ derived: _derived, ...lead }) => lead);
  const order: LeadName[] = [...STANDARD_12_LEADS];
  leads.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  return { samplingFrequencyHz: rate, leads };
}

/** Normal noise (Box–Muller over mulberry32), `rms` nanovolts; a constant 0 when rms is 0. */
function gaussianNoise(seed: number, rms: number): () => number {
  if (rms === 0) return () => 0;
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => rms * Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}
