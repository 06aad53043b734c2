/**
 * A DICOM ECG waveform object (12-Lead, General ECG, or any waveform IOD with ECG channels; Explicit
 * or Implicit VR Little Endian) read with dcmjs into an EcgRecord: the simulator turns it into a
 * serial stream, the tests check our writer against it.
 *
 * Samples stay integers as stored; each lead's unit size is Channel Sensitivity × Correction Factor
 * × the unit (µV, mV). The rhythm is the group labelled RHYTHM (else the first ORIGINAL one), the
 * median beats the one labelled MEDIAN… (else a DERIVED one); phase groups our writer makes for
 * rates above 1000 Hz ("RHYTHM 1/2", "RHYTHM 2/2") are interleaved back into one strip. Other
 * groups (e.g. sequentially acquired 3-lead sets) have no place in an EcgRecord and are noted.
 */
import { decodeText } from "../../../common/dicom-text.ts";
import type { EcgGap, EcgLead, EcgMeasurements, EcgRecord, EcgWaveform } from "../ecg-record.ts";
import {
  type CodedConcept,
  leadFromSourceCode,
  type MeasurementKey,
  measurementFromCode,
  nanovoltsPerUcumUnit,
  normaliseLeadName,
} from "./coded-concepts.ts";
import { ANNOTATION_GROUP, DERIVED_LABEL_SUFFIX } from "./conventions.ts";
import { type DcmjsDataset, readPart10, TAG } from "./dcmjs.ts";
import { isDicomDate, isDicomTime, splitDateTime } from "./dicom-datetime.ts";
import { DICOM_ECG_ERROR_CODES, DicomEcgError } from "./errors.ts";
import { interleavePhases } from "./sampling-rate.ts";

const BIG_ENDIAN_TRANSFER_SYNTAX = "1.2.840.10008.1.2.2";

interface ParsedChannel {
  name: string;
  derived: boolean;
  nanovoltsPerUnit: number;
  samples: Int32Array;
}

interface ParsedGroup {
  /** 1-based position in the Waveform Sequence (what ReferencedWaveformChannels names). */
  number: number;
  baseLabel: string;
  phase: number;
  phaseCount: number;
  originality: string;
  samplingFrequencyHz: number;
  channels: ParsedChannel[];
}

export function readDicomEcg(bytes: Uint8Array): EcgRecord {
  let parsed: ReturnType<typeof readPart10>;
  try {
    parsed = readPart10(bytes);
  } catch (error) {
    throw new DicomEcgError(
      DICOM_ECG_ERROR_CODES.notDicom,
      `not a readable DICOM Part 10 file: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const { meta, dataset } = parsed;
  const transferSyntax = String(meta[TAG.TransferSyntaxUID]?.Value?.[0] ?? "");
  if (transferSyntax === BIG_ENDIAN_TRANSFER_SYNTAX)
    throw new DicomEcgError(
      DICOM_ECG_ERROR_CODES.unsupported,
      "Explicit VR Big Endian waveforms are not read",
    );
  const items = sequence(dataset, "WaveformSequence");
  if (items.length === 0)
    throw new DicomEcgError(
      DICOM_ECG_ERROR_CODES.notEcg,
      "no Waveform Sequence (5400,0100): not a waveform object",
    );

  const notes: string[] = [];
  const groups = items.map((item, index) => parseGroup(item, index + 1, notes));
  const families = groupFamilies(groups);
  const rhythmFamily =
    families.find((family) => family[0]?.baseLabel === "RHYTHM") ??
    families.find((family) => family[0]?.originality === "ORIGINAL") ??
    families[0];
  const medianFamily = families.find(
    (family) =>
      family !== rhythmFamily &&
      (/MEDIAN|REPRESENTATIVE|AVERAGE/.test(family[0]?.baseLabel ?? "") ||
        family[0]?.originality === "DERIVED"),
  );
  for (const family of families) {
    if (family === rhythmFamily || family === medianFamily) continue;
    for (const group of family)
      notes.push(
        `Multiplex group ${group.number} ("${group.baseLabel}") not read: an EcgRecord holds one rhythm and one set of median beats`,
      );
  }
  const rhythm = rhythmFamily ? familyWaveform(rhythmFamily, notes) : undefined;
  if (!rhythm || rhythm.leads.length === 0)
    throw new DicomEcgError(DICOM_ECG_ERROR_CODES.notEcg, "no multiplex group with ECG channels");
  const medianBeats = medianFamily ? familyWaveform(medianFamily, notes) : undefined;

  const { text, decode } = textReader(dataset);
  const annotations = readAnnotations(dataset, text, rhythmFamily ?? [], rhythm);
  const acquired = acquisitionDateTime(text);
  const height = numberOf(dataset, "PatientSize");
  const weight = numberOf(dataset, "PatientWeight");
  const sex = text("PatientSex");
  const birthDate = text("PatientBirthDate");
  const age = text("PatientAge");
  const filters = filterSettings(items[rhythmFamily?.[0] ? rhythmFamily[0].number - 1 : 0]);

  const record: EcgRecord = {
    source: { format: "dicom" },
    patient: {
      ...optional("id", text("PatientID")),
      ...optional("name", personName(dataset, "PatientName", decode)),
      ...(sex === "M" || sex === "F" || sex === "O" ? { sex } : {}),
      ...optional("birthDate", isDicomDate(birthDate) ? birthDate : ""),
      ...optional("age", /^\d{3}[DWMY]$/.test(age) ? age : ""),
      ...(height !== undefined && height > 0 ? { heightCm: Math.round(height * 1000) / 10 } : {}),
      ...(weight !== undefined && weight > 0 ? { weightKg: weight } : {}),
    },
    acquisition: {
      ...optional("date", acquired.date ?? ""),
      ...optional("time", acquired.time ?? ""),
      ...optional("manufacturer", text("Manufacturer")),
      ...optional("model", text("ManufacturerModelName")),
      ...optional("deviceSerialNumber", text("DeviceSerialNumber")),
      ...optional("softwareVersion", text("SoftwareVersions")),
      ...optional("institution", text("InstitutionName")),
      ...optional("department", text("InstitutionalDepartmentName")),
      ...optional("operator", personName(dataset, "OperatorsName", decode)),
      ...optional("referringPhysician", personName(dataset, "ReferringPhysicianName", decode)),
      ...optional("accessionNumber", text("AccessionNumber")),
      ...filters,
    },
    rhythm,
    ...(medianBeats && medianBeats.leads.length > 0 ? { medianBeats } : {}),
    ...(Object.keys(annotations.measurements).length > 0 ? { measurements: annotations.measurements } : {}),
    ...(annotations.statements.length > 0 ? { statements: annotations.statements } : {}),
    ...(annotations.gaps.length > 0 ? { gaps: annotations.gaps } : {}),
  };
  const allNotes = [...annotations.notes, ...notes];
  if (allNotes.length > 0) record.notes = allNotes;
  return record;
}

// ── multiplex groups ────────────────────────────────────────────────────────────────────────

function parseGroup(item: DcmjsDataset, number: number, notes: string[]): ParsedGroup {
  const unsupported = (message: string) =>
    new DicomEcgError(DICOM_ECG_ERROR_CODES.unsupported, `multiplex group ${number}: ${message}`);
  const channelCount = numberOf(item, "NumberOfWaveformChannels") ?? 0;
  const sampleCount = numberOf(item, "NumberOfWaveformSamples") ?? 0;
  const hz = numberOf(item, "SamplingFrequency") ?? 0;
  const bits = numberOf(item, "WaveformBitsAllocated") ?? 0;
  const interpretation = String(item[TAG.WaveformSampleInterpretation]?.Value?.[0] ?? "").trim();
  const definitions = sequence(item, "ChannelDefinitionSequence");
  if (!(hz > 0)) throw unsupported("no sampling frequency");
  if (channelCount < 1 || definitions.length !== channelCount)
    throw unsupported(`${definitions.length} channel definitions for ${channelCount} channels`);
  const width = { SB: 1, SS: 2, SL: 4 }[interpretation];
  if (width === undefined || bits !== width * 8)
    throw unsupported(
      `samples "${interpretation}" in ${bits} bits (only signed 8, 16 and 32-bit samples are read)`,
    );
  const data = item[TAG.WaveformData]?.Value?.[0];
  if (!(data instanceof ArrayBuffer) || data.byteLength < sampleCount * channelCount * width)
    throw unsupported(`Waveform Data holds fewer than ${sampleCount} samples of ${channelCount} channels`);
  const view = new DataView(data);
  const columns = definitions.map(() => new Int32Array(sampleCount));
  for (let sample = 0; sample < sampleCount; sample += 1) {
    for (let channel = 0; channel < channelCount; channel += 1) {
      const offset = (sample * channelCount + channel) * width;
      const value =
        width === 2
          ? view.getInt16(offset, true)
          : width === 1
            ? view.getInt8(offset)
            : view.getInt32(offset, true);
      (columns[channel] as Int32Array)[sample] = value;
    }
  }
  const label = String(item[TAG.MultiplexGroupLabel]?.Value?.[0] ?? "").trim();
  const phased = /^(.*?)\s+(\d+)\/(\d+)$/.exec(label);
  const channels: ParsedChannel[] = [];
  definitions.forEach((definition, index) => {
    const channel = parseChannel(
      definition,
      columns[index] as Int32Array,
      `group ${number}, channel ${index + 1}`,
      notes,
    );
    if (channel) channels.push(channel);
  });
  return {
    number,
    baseLabel: (phased ? (phased[1] ?? "") : label).toUpperCase(),
    phase: phased ? Number(phased[2]) : 1,
    phaseCount: phased ? Number(phased[3]) : 1,
    originality: String(item[TAG.WaveformOriginality]?.Value?.[0] ?? "").trim(),
    samplingFrequencyHz: hz,
    channels,
  };
}

function parseChannel(
  definition: DcmjsDataset,
  samples: Int32Array,
  where: string,
  notes: string[],
): ParsedChannel | undefined {
  const source = codeOf(sequence(definition, "ChannelSourceSequence")[0]);
  const fromCode = source ? leadFromSourceCode(source) : undefined;
  const rawLabel = String(definition[TAG.ChannelLabel]?.Value?.[0] ?? "").trim();
  const labelSaysDerived = rawLabel.toLowerCase().endsWith(DERIVED_LABEL_SUFFIX.trim().toLowerCase());
  const label = labelSaysDerived ? rawLabel.slice(0, -DERIVED_LABEL_SUFFIX.trim().length).trim() : rawLabel;
  const name = fromCode?.name ?? (label ? normaliseLeadName(label) : (source?.codeMeaning ?? where));
  const derived =
    fromCode?.derived === true ||
    labelSaysDerived ||
    definition[TAG.ChannelDerivationDescription] !== undefined;

  const sensitivity = numberOf(definition, "ChannelSensitivity");
  if (sensitivity === undefined) {
    notes.push(`Lead ${name}: no Channel Sensitivity, 1 µV per unit assumed`);
    return { name, derived, nanovoltsPerUnit: 1000, samples };
  }
  const unitCode = codeOf(sequence(definition, "ChannelSensitivityUnitsSequence")[0])?.codeValue ?? "";
  const nanovoltsPerSensitivityUnit = nanovoltsPerUcumUnit(unitCode);
  if (nanovoltsPerSensitivityUnit === undefined) {
    notes.push(`Channel "${label || where}" not read: unit "${unitCode}" is not a voltage`);
    return undefined;
  }
  const correction = numberOf(definition, "ChannelSensitivityCorrectionFactor") ?? 1;
  // Rounded to 12 significant digits: 1.25 × 1 × 1000 is 1250, not 1250.0000000000002.
  const nanovoltsPerUnit = Number((sensitivity * correction * nanovoltsPerSensitivityUnit).toPrecision(12));
  if (!(nanovoltsPerUnit > 0)) {
    notes.push(
      `Lead ${name}: Channel Sensitivity ${sensitivity} × ${correction} is not positive, 1 µV assumed`,
    );
    return { name, derived, nanovoltsPerUnit: 1000, samples };
  }
  // PS3.3 C.10.9.1.4.3: Channel Baseline is the offset of stored 0 from true 0, in the sensitivity
  // units. EcgRecord samples are zero-based, so a baseline becomes an offset added to every sample.
  // (pydicom reads it as an offset in stored units instead; the two agree on the usual 0.)
  const baseline = numberOf(definition, "ChannelBaseline") ?? 0;
  if (baseline !== 0) {
    const offset = (baseline * nanovoltsPerSensitivityUnit) / nanovoltsPerUnit;
    const whole = Math.round(offset);
    if (Math.abs(offset - whole) > 1e-6)
      notes.push(`Lead ${name}: Channel Baseline ${baseline} is ${offset} units, rounded to ${whole}`);
    for (let index = 0; index < samples.length; index += 1) samples[index] = (samples[index] ?? 0) + whole;
  }
  return { name, derived, nanovoltsPerUnit, samples };
}

/** Groups that belong together: one unphased group, or all phases "LABEL p/k" of one label. */
function groupFamilies(groups: readonly ParsedGroup[]): ParsedGroup[][] {
  const families: ParsedGroup[][] = [];
  for (const group of groups) {
    const family =
      group.phaseCount > 1
        ? families.find((existing) => {
            const first = existing[0];
            return (
              first !== undefined &&
              first.phaseCount === group.phaseCount &&
              first.baseLabel === group.baseLabel
            );
          })
        : undefined;
    if (family) family.push(group);
    else families.push([group]);
  }
  return families;
}

function familyWaveform(family: ParsedGroup[], notes: string[]): EcgWaveform {
  const first = family[0] as ParsedGroup;
  const phases = [...family].sort((a, b) => a.phase - b.phase);
  const complete =
    first.phaseCount > 1 &&
    phases.length === first.phaseCount &&
    phases.every(
      (group, index) => group.phase === index + 1 && group.channels.length === first.channels.length,
    );
  if (first.phaseCount > 1 && !complete)
    notes.push(
      `"${first.baseLabel}" has ${phases.length} of ${first.phaseCount} phase groups: only group ${first.number} read`,
    );
  if (!complete) {
    return {
      samplingFrequencyHz: first.samplingFrequencyHz,
      leads: first.channels.map((channel) => lead(channel, channel.samples)),
    };
  }
  return {
    samplingFrequencyHz: Number((first.samplingFrequencyHz * first.phaseCount).toPrecision(12)),
    leads: first.channels.map((channel, index) =>
      lead(
        channel,
        interleavePhases(phases.map((group) => (group.channels[index] as ParsedChannel).samples)),
      ),
    ),
  };
}

function lead(channel: ParsedChannel, samples: Int32Array): EcgLead {
  return {
    name: channel.name,
    samples,
    nanovoltsPerUnit: channel.nanovoltsPerUnit,
    ...(channel.derived ? { derived: true } : {}),
  };
}

function filterSettings(item: DcmjsDataset | undefined): {
  lowPassHz?: number;
  highPassHz?: number;
  notchHz?: number;
} {
  const definition = item ? sequence(item, "ChannelDefinitionSequence")[0] : undefined;
  if (!definition) return {};
  const low = numberOf(definition, "FilterLowFrequency");
  const high = numberOf(definition, "FilterHighFrequency");
  const notch = numberOf(definition, "NotchFilterFrequency");
  // The pass band's low edge is the high-pass cut-off; a notch of 0 means no notch filter.
  return {
    ...(high !== undefined && high > 0 ? { lowPassHz: high } : {}),
    ...(low !== undefined && low >= 0 ? { highPassHz: low } : {}),
    ...(notch !== undefined && notch > 0 ? { notchHz: notch } : {}),
  };
}

// ── annotations ─────────────────────────────────────────────────────────────────────────────

function readAnnotations(
  dataset: DcmjsDataset,
  text: TextOf,
  rhythmFamily: readonly ParsedGroup[],
  rhythm: EcgWaveform,
): { statements: string[]; measurements: EcgMeasurements; gaps: EcgGap[]; notes: string[] } {
  const statements: string[] = [];
  const measurements: EcgMeasurements = {};
  const gaps: EcgGap[] = [];
  const notes: string[] = [];
  const rhythmLength = rhythm.leads[0]?.samples.length ?? 0;
  const phaseCount = rhythmFamily.length > 1 ? (rhythmFamily[0]?.phaseCount ?? 1) : 1;
  for (const item of sequence(dataset, "WaveformAnnotationSequence")) {
    const group = numberOf(item, "AnnotationGroupNumber");
    const value = text("UnformattedTextValue", item);
    if (value !== "") {
      const rangeType = String(item[TAG.TemporalRangeType]?.Value?.[0] ?? "").trim();
      const positions = (item[TAG.ReferencedSamplePositions]?.Value ?? []).map(Number);
      if (group === ANNOTATION_GROUP.gaps && rangeType === "SEGMENT" && positions.length === 2) {
        const [first = 1, last = 1] = positions;
        const startSample = (first - 1) * phaseCount;
        const endSample = Math.min(rhythmLength, last * phaseCount);
        if (endSample > startSample) gaps.push({ startSample, sampleCount: endSample - startSample });
      } else if (group === ANNOTATION_GROUP.notes) notes.push(value);
      else statements.push(value);
      continue;
    }
    const concept = codeOf(sequence(item, "ConceptNameCodeSequence")[0]);
    const key = concept ? measurementFromCode(concept) : undefined;
    const numeric = numberOf(item, "NumericValue");
    if (!key || numeric === undefined) continue;
    const unit = codeOf(sequence(item, "MeasurementUnitsCodeSequence")[0])?.codeValue ?? "";
    measurements[key] = inStandardUnit(key, numeric, unit);
  }
  return { statements, measurements, gaps, notes };
}

/** EcgMeasurements are in ms, degrees and beats per minute; a few writers use seconds. */
function inStandardUnit(key: MeasurementKey, value: number, unit: string): number {
  if (key.endsWith("Ms") && unit === "s") return value * 1000;
  return value;
}

// ── attribute access ────────────────────────────────────────────────────────────────────────

function sequence(dataset: DcmjsDataset, keyword: keyof typeof TAG): DcmjsDataset[] {
  const value = dataset[TAG[keyword]]?.Value;
  return Array.isArray(value)
    ? (value.filter((item) => item && typeof item === "object") as DcmjsDataset[])
    : [];
}

function numberOf(dataset: DcmjsDataset, keyword: keyof typeof TAG): number | undefined {
  const value = dataset[TAG[keyword]]?.Value?.[0];
  const number =
    typeof value === "number" ? value : typeof value === "string" ? Number(value.trim()) : Number.NaN;
  return Number.isFinite(number) && value !== "" ? number : undefined;
}

function codeOf(item: DcmjsDataset | undefined): CodedConcept | undefined {
  if (!item) return undefined;
  const part = (keyword: keyof typeof TAG) => String(item[TAG[keyword]]?.Value?.[0] ?? "").trim();
  return {
    codeValue: part("CodeValue"),
    codingSchemeDesignator: part("CodingSchemeDesignator"),
    codeMeaning: part("CodeMeaning"),
  };
}

/** WHATWG "latin1" is windows-1252: its inverse, to get back the bytes dcmjs decoded. */
const WINDOWS_1252_BYTES = (() => {
  const decoded = new TextDecoder("latin1").decode(Uint8Array.from({ length: 256 }, (_, index) => index));
  return new Map(Array.from(decoded, (character, index) => [character, index]));
})();

type TextOf = (keyword: keyof typeof TAG, item?: DcmjsDataset) => string;

/**
 * Text values, decoded. dcmjs decodes top-level values by the declared Specific Character Set, but
 * the values inside sequence items always as Latin-1 (its item streams lose the decoder); with no
 * declaration, or Latin-1 declared, it decodes Latin-1, and Chinese carts often send GBK that way.
 * So: top-level values under a real declaration are taken as decoded; the others are turned back
 * into their bytes and decoded as the rest of the box does (common/dicom-text.ts).
 */
function textReader(dataset: DcmjsDataset): { text: TextOf; decode: (value: string) => string } {
  const declared = dataset[TAG.SpecificCharacterSet]?._rawValue;
  const terms = (Array.isArray(declared) ? declared : []).map((term) => String(term).trim());
  const first = terms[0] ?? "";
  const latin1Read = first === "" || first === "ISO_IR 6" || first === "ISO_IR 100";
  const fromBytes = (value: string): string => {
    if (!/[^\p{ASCII}]/u.test(value)) return value;
    const bytes = Uint8Array.from(
      Array.from(value, (character) => WINDOWS_1252_BYTES.get(character) ?? 0x3f),
    );
    return decodeText(bytes, terms);
  };
  const decode = (value: string): string => (latin1Read ? fromBytes(value) : value);
  const text: TextOf = (keyword, item = dataset) => {
    const raw = item[TAG[keyword]]?.Value?.[0];
    const value = typeof raw === "string" ? raw : typeof raw === "number" ? String(raw) : "";
    return (item === dataset ? decode(value) : fromBytes(value)).trim();
  };
  return { text, decode };
}

/** A PN as EcgRecord keeps it: component groups joined by "=", trailing empty components dropped. */
function personName(
  dataset: DcmjsDataset,
  keyword: "PatientName" | "OperatorsName" | "ReferringPhysicianName",
  decode: (value: string) => string,
): string {
  const value = dataset[TAG[keyword]]?.Value?.[0];
  const groups =
    value && typeof value === "object"
      ? (value as { Alphabetic?: string; Ideographic?: string; Phonetic?: string })
      : { Alphabetic: typeof value === "string" ? value : "" };
  return [groups.Alphabetic ?? "", groups.Ideographic ?? "", groups.Phonetic ?? ""]
    .map((group) => decode(group).trim().replace(/\^+$/, ""))
    .join("=")
    .replace(/=+$/, "");
}

function acquisitionDateTime(text: TextOf): { date?: string; time?: string } {
  const fromDateTime = splitDateTime(text("AcquisitionDateTime"));
  if (fromDateTime.date) return fromDateTime;
  for (const [dateKey, timeKey] of [
    ["ContentDate", "ContentTime"],
    ["StudyDate", "StudyTime"],
  ] as const) {
    const date = text(dateKey);
    const time = text(timeKey);
    if (isDicomDate(date)) return { date, ...(isDicomTime(time) ? { time } : {}) };
  }
  return {};
}

function optional<K extends string>(key: K, value: string): { [P in K]?: string } {
  return (value === "" ? {} : { [key]: value }) as { [P in K]?: string };
}
