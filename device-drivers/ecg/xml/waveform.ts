/**
 * Leads decoded from one XML waveform block → an EcgWaveform, with the checks every dialect needs:
 * a usable sampling rate, the box's size limits, and one sample count for all leads.
 */
import { type EcgLead, type EcgWaveform, STANDARD_12_LEADS } from "../ecg-record.ts";
import { EcgXmlError } from "./errors.ts";
import { MAX_LEADS, MAX_SAMPLES_PER_LEAD, MAX_SAMPLES_PER_WAVEFORM } from "./limits.ts";

/** Sampling rates outside this range are not an ECG (carts use 100–16 000 Hz). */
const MIN_RATE_HZ = 1;
const MAX_RATE_HZ = 100_000;

/**
 * `what` names the block in messages ("rhythm", "median beats"). Leads come back in standard
 * order whatever order the file used. Leads of different lengths are cut
 * to the shortest, with a note: EcgWaveform promises one sample count, and the overhang has no
 * simultaneous samples in the other leads to be drawn against.
 */
export function assembleWaveform(
  samplingFrequencyHz: number,
  leads: EcgLead[],
  what: string,
  notes: string[],
): EcgWaveform {
  if (!(samplingFrequencyHz >= MIN_RATE_HZ && samplingFrequencyHz <= MAX_RATE_HZ)) {
    throw new EcgXmlError(
      "ECG_XML_MALFORMED",
      `${what}: sampling rate ${samplingFrequencyHz} Hz is not usable`,
    );
  }
  checkLeadCount(leads.length, what);
  if (leads.length === 0) throw new EcgXmlError("ECG_XML_NO_WAVEFORM", `${what}: no leads`);
  const lengths = leads.map((lead) => lead.samples.length);
  const shortest = Math.min(...lengths);
  const longest = Math.max(...lengths);
  if (longest > MAX_SAMPLES_PER_LEAD || shortest * leads.length > MAX_SAMPLES_PER_WAVEFORM) {
    throw new EcgXmlError(
      "ECG_XML_TOO_LARGE",
      `${what}: ${leads.length} leads of ${longest} samples exceed the box's limits`,
    );
  }
  if (shortest === 0) throw new EcgXmlError("ECG_XML_NO_WAVEFORM", `${what}: a lead has no samples`);
  for (const lead of leads) {
    if (!(lead.nanovoltsPerUnit > 0 && Number.isFinite(lead.nanovoltsPerUnit))) {
      throw new EcgXmlError("ECG_XML_MALFORMED", `${what}: lead ${lead.name} has no usable amplitude scale`);
    }
  }
  const names = new Set<string>();
  for (const lead of leads) {
    if (names.has(lead.name))
      throw new EcgXmlError("ECG_XML_MALFORMED", `${what}: lead ${lead.name} appears twice`);
    names.add(lead.name);
  }
  if (shortest !== longest) {
    notes.push(`${what}: leads had ${shortest}–${longest} samples; all cut to ${shortest}`);
    for (const lead of leads) lead.samples = lead.samples.slice(0, shortest);
  }
  return { samplingFrequencyHz, leads: inStandardOrder(leads) };
}

/** The standard 12 in sheet order first (as withDerivedLimbLeads orders them), then the rest as found. */
function inStandardOrder(leads: EcgLead[]): EcgLead[] {
  const rank = (lead: EcgLead) => {
    const index = (STANDARD_12_LEADS as readonly string[]).indexOf(lead.name);
    return index < 0 ? STANDARD_12_LEADS.length : index;
  };
  return leads
    .map((lead, position) => ({ lead, position }))
    .sort((a, b) => rank(a.lead) - rank(b.lead) || a.position - b.position)
    .map(({ lead }) => lead);
}

export function checkLeadCount(count: number, what: string): void {
  if (count > MAX_LEADS) {
    throw new EcgXmlError("ECG_XML_TOO_LARGE", `${what}: ${count} leads; at most ${MAX_LEADS} are accepted`);
  }
}
