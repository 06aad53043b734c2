/**
 * Einthoven and Goldberger: the limb leads III, aVR, aVL and aVF follow from I and II, so carts and
 * acquisition modules that measure only I, II and V1–V6 send 8 leads. The box derives the other 4
 * so every ECG leaves it as a full 12-lead set, each derived lead marked `derived`.
 *
 *   III = II − I      aVR = −(I + II) / 2      aVL = I − II / 2      aVF = II − I / 2
 *
 * Halves are rounded to the nearest unit: the error is at most half a unit (a few µV), inside the
 * quantisation of the source.
 */
import { type EcgLead, type EcgWaveform, STANDARD_12_LEADS } from "./ecg-record.ts";

type Formula = (i: number, ii: number) => number;

const FORMULAS: Record<"III" | "aVR" | "aVL" | "aVF", Formula> = {
  III: (i, ii) => ii - i,
  aVR: (i, ii) => Math.round(-(i + ii) / 2),
  aVL: (i, ii) => Math.round(i - ii / 2),
  aVF: (i, ii) => Math.round(ii - i / 2),
};

/**
 * Returns the waveform with any missing III/aVR/aVL/aVF added (when I and II are both present and
 * share a unit size), leads in standard 12-lead order first, then any others in their original
 * order. A waveform that already has a lead keeps the device's own.
 */
export function withDerivedLimbLeads(waveform: EcgWaveform): EcgWaveform {
  const byName = new Map(waveform.leads.map((lead) => [lead.name, lead]));
  const leadI = byName.get("I");
  const leadII = byName.get("II");
  if (!leadI || !leadII || leadI.nanovoltsPerUnit !== leadII.nanovoltsPerUnit) return waveform;
  const length = Math.min(leadI.samples.length, leadII.samples.length);
  for (const [name, formula] of Object.entries(FORMULAS)) {
    if (byName.has(name)) continue;
    const samples = new Int32Array(length);
    for (let k = 0; k < length; k++) samples[k] = formula(leadI.samples[k] ?? 0, leadII.samples[k] ?? 0);
    byName.set(name, { name, samples, nanovoltsPerUnit: leadI.nanovoltsPerUnit, derived: true });
  }
  const standard: string[] = [...STANDARD_12_LEADS];
  const ordered: EcgLead[] = [];
  for (const name of standard) {
    const lead = byName.get(name);
    if (lead) ordered.push(lead);
  }
  for (const lead of waveform.leads) if (!standard.includes(lead.name)) ordered.push(lead);
  return { samplingFrequencyHz: waveform.samplingFrequencyHz, leads: ordered };
}
