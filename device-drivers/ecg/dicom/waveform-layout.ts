/**
 * How an EcgRecord's waveforms become multiplex groups, and which SOP Class can hold them.
 *
 * The rule (PS3.3 A.34.3.4 and A.34.4.4; the reasons are in the report of the ECG work):
 * 1. Every lead is fitted to 16 bits (fit-int16.ts) and every rate brought within 200–1000 Hz
 *    (sampling-rate.ts), never by dropping samples.
 * 2. The rhythm is one multiplex group "RHYTHM" (WaveformOriginality ORIGINAL); median beats, when
 *    present, a second one "MEDIAN" (DERIVED). Above 1000 Hz each becomes k phase groups
 *    "RHYTHM 1/k" … "RHYTHM k/k".
 * 3. 12-Lead ECG Waveform Storage when the whole object fits that IOD: at most 5 groups, at most
 *    13 channels per group AND in total (A.34.3.4.4), at most 16384 samples per channel
 *    (A.34.3.4.5). That is a rhythm of up to 13 leads and ~16 s at 1000 Hz (32 s at 500 Hz) with
 *    no median beats; the 13-channel total leaves no room for a second set of 12.
 * 4. Otherwise General ECG Waveform Storage, which has no sample limit and takes up to 4 groups of
 *    up to 24 channels each (A.34.4.4): long records, 15-lead records, rhythm + median beats, and
 *    records split into phases. We do not split a long rhythm into consecutive 12-lead groups with
 *    Multiplex Group Time Offset: 3 × 12 channels breaks the 13-channel total anyway, and dciodvfy
 *    rejects that offset unless Acquisition Time Synchronized is Y, which a cart never states.
 *    buildDicomEcgSet (write-dicom-ecg.ts) avoids the last case for the usual cart record: when
 *    the rhythm alone fits the 12-lead IOD, it is written as a 12-Lead ECG instance and the median
 *    beats as a second, General ECG instance of the same series.
 * 5. Anything beyond General ECG (more than 24 leads, more than 4 groups) is refused with
 *    DICOM_ECG_UNREPRESENTABLE rather than cut.
 */
import type { EcgRecord, EcgWaveform } from "../ecg-record.ts";
import { formatDs } from "./decimal-string.ts";
import { DICOM_ECG_ERROR_CODES, DicomEcgError } from "./errors.ts";
import { fitLeadToInt16 } from "./fit-int16.ts";
import {
  MAX_SAMPLING_HZ,
  MIN_SAMPLING_HZ,
  planSamplingRate,
  type RatePlan,
  takePhase,
  upsampleLinear,
} from "./sampling-rate.ts";

export const SOP_CLASS = {
  twelveLeadEcg: "1.2.840.10008.5.1.4.1.1.9.1.1",
  generalEcg: "1.2.840.10008.5.1.4.1.1.9.1.2",
} as const;

export const TWELVE_LEAD_LIMITS = { groups: 5, channelsTotal: 13, samplesPerChannel: 16384 } as const;
export const GENERAL_ECG_LIMITS = { groups: 4, channelsPerGroup: 24 } as const;

export const GROUP_LABEL = { rhythm: "RHYTHM", median: "MEDIAN" } as const;

export interface EncodedChannel {
  name: string;
  derived: boolean;
  /** Channel Sensitivity, µV per stored unit (DS). */
  sensitivityUv: string;
  /** Channel Time Skew in seconds (DS) for phase groups; the others carry Channel Sample Skew 0. */
  timeSkewSeconds?: string;
}

export interface EncodedGroup {
  kind: "rhythm" | "median";
  label: string;
  originality: "ORIGINAL" | "DERIVED";
  /** Sampling Frequency (DS). */
  samplingFrequency: string;
  sampleCount: number;
  channels: EncodedChannel[];
  /** Interleaved samples: sample s of channel c at s × channels + c. */
  data: Int16Array;
}

export interface WaveformLayout {
  sopClassUid: string;
  groups: EncodedGroup[];
  /** How the rhythm's sample indices map onto its groups (for annotating gaps). */
  rhythmRate: RatePlan;
  /** What was done to fit the record (rescaled leads, resampling, IOD choice); no patient data. */
  notes: string[];
}

/**
 * `medianOnly`: lay out only the record's median beats, as the second instance of a 12-lead ECG
 * whose rhythm filled the 12-lead IOD (write-dicom-ecg.ts, buildDicomEcgSet); always General ECG.
 */
export function layoutWaveforms(record: EcgRecord, options: { medianOnly?: boolean } = {}): WaveformLayout {
  if (options.medianOnly) {
    const median = record.medianBeats;
    if (!median) throw new DicomEcgError(DICOM_ECG_ERROR_CODES.invalidRecord, "no median beats to write");
    checkWaveform(median, "median beats");
    const notes: string[] = [];
    const encoded = encodeWaveform(median, "median", notes);
    chooseSopClass(encoded.groups, []); // refuses what no ECG IOD holds
    return { sopClassUid: SOP_CLASS.generalEcg, groups: encoded.groups, rhythmRate: encoded.rate, notes };
  }
  checkWaveform(record.rhythm, "rhythm");
  const notes: string[] = [];
  const rhythm = encodeWaveform(record.rhythm, "rhythm", notes);
  const groups = [...rhythm.groups];
  const median = record.medianBeats;
  if (median && median.leads.length > 0 && (median.leads[0]?.samples.length ?? 0) > 0) {
    checkWaveform(median, "median beats");
    groups.push(...encodeWaveform(median, "median", notes).groups);
  }
  const sopClassUid = chooseSopClass(groups, notes);
  return { sopClassUid, groups, rhythmRate: rhythm.rate, notes };
}

function checkWaveform(waveform: EcgWaveform, what: string): void {
  const invalid = (message: string) =>
    new DicomEcgError(DICOM_ECG_ERROR_CODES.invalidRecord, `${what}: ${message}`);
  if (!(waveform.samplingFrequencyHz > 0) || !Number.isFinite(waveform.samplingFrequencyHz))
    throw invalid(`sampling frequency ${waveform.samplingFrequencyHz} Hz is not a positive number`);
  if (waveform.leads.length === 0) throw invalid("no leads");
  const length = waveform.leads[0]?.samples.length ?? 0;
  if (length === 0) throw invalid("no samples");
  for (const lead of waveform.leads) {
    if (lead.samples.length !== length)
      throw invalid(
        `lead ${lead.name} has ${lead.samples.length} samples, lead ${waveform.leads[0]?.name} ${length}`,
      );
    if (!(lead.nanovoltsPerUnit > 0) || !Number.isFinite(lead.nanovoltsPerUnit))
      throw invalid(`lead ${lead.name} has unit size ${lead.nanovoltsPerUnit} nV`);
  }
}

function encodeWaveform(
  waveform: EcgWaveform,
  kind: "rhythm" | "median",
  notes: string[],
): { groups: EncodedGroup[]; rate: RatePlan } {
  const hz = waveform.samplingFrequencyHz;
  const rate = planSamplingRate(hz);
  const what = kind === "rhythm" ? "Rhythm" : "Median beats";
  const fitted = waveform.leads.map((lead) => {
    const fit = fitLeadToInt16(`${what}, lead ${lead.name}`, lead.samples, lead.nanovoltsPerUnit);
    if (fit.note) notes.push(fit.note);
    return { lead, fit };
  });
  const label = GROUP_LABEL[kind];
  const originality = kind === "rhythm" ? "ORIGINAL" : "DERIVED";
  const channelOf = (entry: (typeof fitted)[number], timeSkewSeconds?: string): EncodedChannel => ({
    name: entry.lead.name,
    derived: entry.lead.derived === true,
    sensitivityUv: entry.fit.sensitivityUv,
    ...(timeSkewSeconds === undefined ? {} : { timeSkewSeconds }),
  });

  if (rate.kind === "phases") {
    notes.push(
      `${what} sampled at ${formatDs(hz)} Hz, above the ${MAX_SAMPLING_HZ} Hz the ECG IODs allow: stored as ${rate.count} interleaved groups of ${formatDs(hz / rate.count)} Hz ("${label} 1/${rate.count}" …, Channel Time Skew), no sample dropped`,
    );
    const groups: EncodedGroup[] = [];
    for (let phase = 0; phase < rate.count; phase += 1) {
      const columns = fitted.map((entry) => takePhase(entry.fit.values, phase, rate.count));
      groups.push({
        kind,
        label: `${label} ${phase + 1}/${rate.count}`,
        originality,
        samplingFrequency: formatDs(hz / rate.count),
        sampleCount: columns[0]?.length ?? 0,
        channels: fitted.map((entry) => channelOf(entry, formatDs(phase / hz))),
        data: interleave(columns),
      });
    }
    return { groups, rate };
  }

  let columns = fitted.map((entry) => entry.fit.values);
  let groupHz = hz;
  if (rate.kind === "upsample") {
    groupHz = hz * rate.factor;
    columns = columns.map((values) => upsampleLinear(values, rate.factor));
    notes.push(
      `${what} sampled at ${formatDs(hz)} Hz, below the ${MIN_SAMPLING_HZ} Hz the ECG IODs allow: stored at ${formatDs(groupHz)} Hz: one sample in ${rate.factor} is an original, the others linear interpolation`,
    );
  }
  const group: EncodedGroup = {
    kind,
    label,
    originality,
    samplingFrequency: formatDs(groupHz),
    sampleCount: columns[0]?.length ?? 0,
    channels: fitted.map((entry) => channelOf(entry)),
    data: interleave(columns),
  };
  return { groups: [group], rate };
}

function interleave(columns: readonly Int32Array[]): Int16Array {
  const channels = columns.length;
  const samples = columns[0]?.length ?? 0;
  const data = new Int16Array(samples * channels);
  columns.forEach((column, channel) => {
    for (let index = 0; index < samples; index += 1) data[index * channels + channel] = column[index] ?? 0;
  });
  return data;
}

function chooseSopClass(groups: readonly EncodedGroup[], notes: string[]): string {
  const totalChannels = groups.reduce((sum, group) => sum + group.channels.length, 0);
  const longest = Math.max(...groups.map((group) => group.sampleCount));
  const fitsTwelveLead =
    groups.length <= TWELVE_LEAD_LIMITS.groups &&
    totalChannels <= TWELVE_LEAD_LIMITS.channelsTotal &&
    longest <= TWELVE_LEAD_LIMITS.samplesPerChannel;
  if (fitsTwelveLead) return SOP_CLASS.twelveLeadEcg;

  const widest = Math.max(...groups.map((group) => group.channels.length));
  if (groups.length > GENERAL_ECG_LIMITS.groups || widest > GENERAL_ECG_LIMITS.channelsPerGroup) {
    throw new DicomEcgError(
      DICOM_ECG_ERROR_CODES.unrepresentable,
      `no ECG waveform IOD holds ${groups.length} multiplex groups of up to ${widest} channels (General ECG: at most ${GENERAL_ECG_LIMITS.groups} groups of ${GENERAL_ECG_LIMITS.channelsPerGroup})`,
      { groups: groups.length, widestGroup: widest },
    );
  }
  const reasons: string[] = [];
  if (totalChannels > TWELVE_LEAD_LIMITS.channelsTotal)
    reasons.push(`${totalChannels} channels in all (at most ${TWELVE_LEAD_LIMITS.channelsTotal})`);
  if (longest > TWELVE_LEAD_LIMITS.samplesPerChannel)
    reasons.push(`${longest} samples per channel (at most ${TWELVE_LEAD_LIMITS.samplesPerChannel})`);
  if (groups.length > TWELVE_LEAD_LIMITS.groups)
    reasons.push(`${groups.length} multiplex groups (at most ${TWELVE_LEAD_LIMITS.groups})`);
  notes.push(
    `Written as General ECG Waveform Storage: the 12-lead ECG IOD cannot hold ${reasons.join(", ")}`,
  );
  return SOP_CLASS.generalEcg;
}
