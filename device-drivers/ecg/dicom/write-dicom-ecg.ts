/**
 * An EcgRecord as a standard DICOM ECG waveform object (PS3.3 A.34.3 12-Lead ECG or A.34.4
 * General ECG, chosen in waveform-layout.ts), as a Part 10 file in Explicit VR Little Endian with
 * our Implementation Class UID, written by dcmjs. The box's registration (context) overrides what
 * the cart typed in, since the registration desk checked the patient's ID card.
 *
 * Modules: Patient, General Study, Patient Study, General Series, General Equipment, Waveform
 * Identification, Waveform, Acquisition Context (empty: carts state no TID 3401 context), Waveform
 * Annotation (measurements, statements, gaps, notes) and SOP Common.
 */
import {
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION_NAME,
  TRANSFER_SYNTAX,
} from "../../dicom/constants.ts";
import type { InstanceAttributes } from "../../types.ts";
import type { EcgRecord } from "../ecg-record.ts";
import { type CodedConcept, leadSourceCode, MEASUREMENT_CONCEPTS, UNITS } from "./coded-concepts.ts";
import { ANNOTATION_GROUP, DERIVED_LABEL_SUFFIX, GAP_ANNOTATION_TEXT } from "./conventions.ts";
import { type DcmjsDataset, type DcmjsElement, TAG, writePart10 } from "./dcmjs.ts";
import { formatDs } from "./decimal-string.ts";
import { formatUtcOffset, isDicomDate, isDicomTime, localDateTime } from "./dicom-datetime.ts";
import { DICOM_ECG_ERROR_CODES, DicomEcgError } from "./errors.ts";
import { derivedUid, isValidUid, newUid } from "./uid.ts";
import { type EncodedGroup, layoutWaveforms, SOP_CLASS, type WaveformLayout } from "./waveform-layout.ts";

/** What the box adds to a record: identifiers, its registration of the patient, and where/when. */
export interface DicomEcgContext {
  /** The study this ECG belongs to (e.g. pre-assigned at registration); generated when absent. */
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  sopInstanceUid?: string;
  /** Registration overrides: when given (even empty), they replace what the device recorded. */
  patientId?: string;
  /** DICOM PN form, `Family^Given`; Chinese names usually whole in the family component. */
  patientName?: string;
  patientSex?: "M" | "F" | "O";
  /** DA, YYYYMMDD. */
  patientBirthDate?: string;
  accessionNumber?: string;
  /** When the ECG was linked to a worklist entry: its Requested Procedure and Scheduled Step. */
  requestedProcedureId?: string;
  scheduledProcedureStepId?: string;
  studyDescription?: string;
  /** The health centre; replaces the cart's institution when given. */
  institutionName?: string;
  /** The box (or the cart's place) as the centre names it; SH, 16 characters. */
  stationName?: string;
  /** The box's time zone, minutes east of UTC (China: 480); the system's when absent. */
  utcOffsetMinutes?: number;
  /** When the box created the instance (Instance Creation Date/Time); now when absent. */
  createdAt?: Date;
  seriesNumber?: number;
  instanceNumber?: number;
}

export interface DicomEcgInstance {
  /** The Part 10 file. */
  bytes: Uint8Array;
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  /** The indexed attributes as written, for an InstanceSink. */
  attributes: InstanceAttributes;
  /** What the writer had to do to fit the record (rescaling, resampling, SOP Class); no patient data. */
  notes: string[];
}

/** PS3.3 Table C.10-10 ST: 1024 characters per annotation text. */
const MAX_ST = 1024;

export function writeDicomEcg(record: EcgRecord, context: DicomEcgContext = {}): Uint8Array {
  return buildDicomEcg(record, context).bytes;
}

/**
 * The instances an ECG becomes. The 12-lead IOD holds at most 13 channels in all (PS3.3
 * A.34.3.4.4), so a cart record with median beats (12 + 12 channels) cannot be one 12-Lead ECG
 * object. When its rhythm alone fits that IOD, the rhythm — with the measurements, statements and
 * gaps — is the 12-Lead ECG instance every ECG viewer reads (instance 1), and the median beats
 * follow as a General ECG instance in the same series (instance 2). Otherwise (no median beats, or
 * a rhythm the 12-lead IOD cannot hold) one instance, as `buildDicomEcg` chooses.
 */
export function buildDicomEcgSet(record: EcgRecord, context: DicomEcgContext = {}): DicomEcgInstance[] {
  const median = record.medianBeats;
  if (!median || (median.leads[0]?.samples.length ?? 0) === 0) return [buildDicomEcg(record, context)];
  const { medianBeats: _median, ...rhythmOnly } = record;
  const rhythm = buildDicomEcg(rhythmOnly, context);
  if (rhythm.sopClassUid !== SOP_CLASS.twelveLeadEcg) return [buildDicomEcg(record, context)];
  const { sopInstanceUid: _sop, ...shared } = context;
  const { gaps: _gaps, measurements: _measurements, statements: _statements, ...medianRecord } = record;
  const medians = buildDicomEcg(
    { ...medianRecord, notes: [`Median beats of the 12-lead ECG instance ${rhythm.sopInstanceUid}`] },
    {
      ...shared,
      studyInstanceUid: rhythm.studyInstanceUid,
      seriesInstanceUid: rhythm.seriesInstanceUid,
      // Given the rhythm's UID (content-derived by the caller), the medians' follows from it.
      ...(context.sopInstanceUid
        ? { sopInstanceUid: derivedUid(context.sopInstanceUid, "median-beats") }
        : {}),
      instanceNumber: (context.instanceNumber ?? 1) + 1,
    },
    { medianOnly: true },
  );
  return [rhythm, medians];
}

export function buildDicomEcg(
  record: EcgRecord,
  context: DicomEcgContext = {},
  options: { medianOnly?: boolean } = {},
): DicomEcgInstance {
  const layout = layoutWaveforms(record, options);
  const uids = {
    study: contextUid(context.studyInstanceUid, "studyInstanceUid"),
    series: contextUid(context.seriesInstanceUid, "seriesInstanceUid"),
    sop: contextUid(context.sopInstanceUid, "sopInstanceUid"),
  };
  const createdAt = context.createdAt ?? new Date();
  const utcOffsetMinutes = context.utcOffsetMinutes ?? -createdAt.getTimezoneOffset();
  checkContext(context, utcOffsetMinutes);
  const created = localDateTime(createdAt, utcOffsetMinutes);
  const notes = [...layout.notes];

  // Type 1 Content Date/Time and Acquisition DateTime need a value: the device's when it gave a
  // valid one, else the moment the box received the record (close to the acquisition for a cart on a cable).
  const deviceDate = record.acquisition.date ?? "";
  const deviceTime = record.acquisition.time ?? "";
  const acquired =
    isDicomDate(deviceDate) && isDicomTime(deviceTime) ? { date: deviceDate, time: deviceTime } : created;
  if (acquired === created)
    notes.push(
      "Acquisition date/time not given (or not valid) by the device: the gateway's receive time is used",
    );

  const patient = {
    id: context.patientId ?? record.patient.id ?? "",
    name: context.patientName ?? record.patient.name ?? "",
    sex: context.patientSex ?? record.patient.sex ?? "",
    birthDate: context.patientBirthDate ?? record.patient.birthDate ?? "",
  };
  if (patient.birthDate !== "" && !isDicomDate(patient.birthDate)) patient.birthDate = "";
  const accessionNumber = context.accessionNumber ?? record.acquisition.accessionNumber ?? "";
  const age = /^\d{3}[DWMY]$/.test(record.patient.age ?? "") ? (record.patient.age ?? "") : "";
  const studyDescription = context.studyDescription ?? "ECG";

  const ds: DcmjsDataset = {};
  // SOP Common (PS3.3 C.12.1)
  put(ds, "SOPClassUID", "UI", layout.sopClassUid);
  put(ds, "SOPInstanceUID", "UI", uids.sop);
  put(ds, "InstanceCreationDate", "DA", created.date);
  put(ds, "InstanceCreationTime", "TM", created.time);
  put(ds, "TimezoneOffsetFromUTC", "SH", formatUtcOffset(utcOffsetMinutes));
  // Patient (C.7.1.1)
  const patientName = personName(patient.name);
  put(ds, "PatientName", "PN", patientName);
  put(ds, "PatientID", "LO", text(patient.id, 64));
  put(ds, "PatientBirthDate", "DA", patient.birthDate);
  put(ds, "PatientSex", "CS", ["M", "F", "O"].includes(patient.sex) ? patient.sex : "");
  // General Study (C.7.2.1) and Patient Study (C.7.2.2)
  put(ds, "StudyInstanceUID", "UI", uids.study);
  put(ds, "StudyDate", "DA", acquired.date);
  put(ds, "StudyTime", "TM", acquired.time);
  put(ds, "ReferringPhysicianName", "PN", personName(record.acquisition.referringPhysician ?? ""));
  put(ds, "StudyID", "SH", text(context.requestedProcedureId ?? "", 16));
  put(ds, "AccessionNumber", "SH", text(accessionNumber, 16));
  put(ds, "StudyDescription", "LO", text(studyDescription, 64));
  if (age) put(ds, "PatientAge", "AS", age);
  const heightCm = record.patient.heightCm;
  if (heightCm !== undefined && heightCm > 0) put(ds, "PatientSize", "DS", formatDs(heightCm / 100));
  const weightKg = record.patient.weightKg;
  if (weightKg !== undefined && weightKg > 0) put(ds, "PatientWeight", "DS", formatDs(weightKg));
  // General Series (C.7.3.1)
  put(ds, "Modality", "CS", "ECG");
  put(ds, "SeriesInstanceUID", "UI", uids.series);
  put(ds, "SeriesNumber", "IS", String(context.seriesNumber ?? 1));
  put(ds, "SeriesDate", "DA", acquired.date);
  put(ds, "SeriesTime", "TM", acquired.time);
  put(ds, "SeriesDescription", "LO", "ECG");
  const operator = personName(record.acquisition.operator ?? "");
  if (operator !== "") put(ds, "OperatorsName", "PN", operator);
  const requestAttributes = requestAttributesItem(context, accessionNumber);
  if (requestAttributes) ds[TAG.RequestAttributesSequence] = { vr: "SQ", Value: [requestAttributes] };
  // General Equipment (C.7.5.1)
  put(ds, "Manufacturer", "LO", text(record.acquisition.manufacturer ?? "", 64));
  putIfText(ds, "InstitutionName", "LO", context.institutionName ?? record.acquisition.institution, 64);
  putIfText(ds, "StationName", "SH", context.stationName, 16);
  putIfText(ds, "InstitutionalDepartmentName", "LO", record.acquisition.department, 64);
  putIfText(ds, "ManufacturerModelName", "LO", record.acquisition.model, 64);
  putIfText(ds, "DeviceSerialNumber", "LO", record.acquisition.deviceSerialNumber, 64);
  putIfText(ds, "SoftwareVersions", "LO", record.acquisition.softwareVersion, 64);
  // Waveform Identification (C.10.8)
  put(ds, "InstanceNumber", "IS", String(context.instanceNumber ?? 1));
  put(ds, "ContentDate", "DA", acquired.date);
  put(ds, "ContentTime", "TM", acquired.time);
  put(ds, "AcquisitionDateTime", "DT", `${acquired.date}${acquired.time}`);
  // Acquisition Context (C.7.6.14): Type 2, present and empty.
  ds[TAG.AcquisitionContextSequence] = { vr: "SQ", Value: [] };
  // Waveform (C.10.9)
  ds[TAG.WaveformSequence] = { vr: "SQ", Value: layout.groups.map((group) => groupItem(group, record)) };
  // Waveform Annotation (C.10.10): only when there is something to annotate (Type 1 sequence).
  // A record read from one of our files carries the notes written then: each note once.
  const annotations = annotationItems(record, layout, [...new Set([...(record.notes ?? []), ...notes])]);
  if (annotations.length > 0) ds[TAG.WaveformAnnotationSequence] = { vr: "SQ", Value: annotations };
  // PS3.3 C.12.1.1.2: declare UTF-8 only when some text needs more than ASCII.
  if (hasNonAscii(ds)) put(ds, "SpecificCharacterSet", "CS", "ISO_IR 192");

  const meta: DcmjsDataset = {
    [TAG.FileMetaInformationVersion]: { vr: "OB", Value: [Uint8Array.of(0, 1).buffer] },
    [TAG.MediaStorageSOPClassUID]: { vr: "UI", Value: [layout.sopClassUid] },
    [TAG.MediaStorageSOPInstanceUID]: { vr: "UI", Value: [uids.sop] },
    [TAG.TransferSyntaxUID]: { vr: "UI", Value: [TRANSFER_SYNTAX.explicitVrLittleEndian] },
    [TAG.ImplementationClassUID]: { vr: "UI", Value: [IMPLEMENTATION_CLASS_UID] },
    [TAG.ImplementationVersionName]: { vr: "SH", Value: [IMPLEMENTATION_VERSION_NAME] },
  };
  const bytes = writePart10(meta, ds);
  return {
    bytes,
    sopClassUid: layout.sopClassUid,
    sopInstanceUid: uids.sop,
    studyInstanceUid: uids.study,
    seriesInstanceUid: uids.series,
    attributes: {
      studyInstanceUid: uids.study,
      seriesInstanceUid: uids.series,
      sopInstanceUid: uids.sop,
      sopClassUid: layout.sopClassUid,
      transferSyntaxUid: TRANSFER_SYNTAX.explicitVrLittleEndian,
      modality: "ECG",
      patientId: text(patient.id, 64),
      patientName,
      patientSex: ["M", "F", "O"].includes(patient.sex) ? patient.sex : "",
      patientBirthDate: patient.birthDate,
      patientAge: age,
      studyDate: acquired.date,
      studyTime: acquired.time,
      studyDescription: text(studyDescription, 64),
      accessionNumber: text(accessionNumber, 16),
    },
    notes,
  };
}

function contextUid(uid: string | undefined, field: string): string {
  if (uid === undefined) return newUid();
  if (!isValidUid(uid))
    throw new DicomEcgError(DICOM_ECG_ERROR_CODES.invalidContext, `${field} is not a valid DICOM UID`, {
      field,
    });
  return uid;
}

function checkContext(context: DicomEcgContext, utcOffsetMinutes: number): void {
  const invalid = (field: string, why: string) =>
    new DicomEcgError(DICOM_ECG_ERROR_CODES.invalidContext, `${field} ${why}`, { field });
  if (!Number.isInteger(utcOffsetMinutes) || Math.abs(utcOffsetMinutes) > 14 * 60)
    throw invalid("utcOffsetMinutes", "must be a whole number of minutes within ±14 h");
  if (context.createdAt !== undefined && Number.isNaN(context.createdAt.getTime()))
    throw invalid("createdAt", "is not a valid date");
  if (context.patientBirthDate && !isDicomDate(context.patientBirthDate))
    throw invalid("patientBirthDate", "is not a date in DA form (YYYYMMDD)");
  for (const field of ["seriesNumber", "instanceNumber"] as const) {
    const value = context[field];
    if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > 2 ** 31 - 1))
      throw invalid(field, "must be a non-negative integer");
  }
}

/** PS3.3 Table 10-9 Request Attributes Macro, when the ECG was linked to a scheduled procedure. */
function requestAttributesItem(context: DicomEcgContext, accessionNumber: string): DcmjsDataset | undefined {
  const requested = context.requestedProcedureId ?? "";
  const step = context.scheduledProcedureStepId ?? "";
  if (requested === "" && step === "") return undefined;
  const item: DcmjsDataset = {};
  if (accessionNumber !== "") put(item, "AccessionNumber", "SH", text(accessionNumber, 16));
  if (requested !== "") put(item, "RequestedProcedureID", "SH", text(requested, 16));
  if (step !== "") put(item, "ScheduledProcedureStepID", "SH", text(step, 16));
  return item;
}

function groupItem(group: EncodedGroup, record: EcgRecord): DcmjsDataset {
  const item: DcmjsDataset = {};
  put(item, "WaveformOriginality", "CS", group.originality);
  put(item, "NumberOfWaveformChannels", "US", group.channels.length);
  put(item, "NumberOfWaveformSamples", "UL", group.sampleCount);
  put(item, "SamplingFrequency", "DS", group.samplingFrequency);
  put(item, "MultiplexGroupLabel", "SH", group.label);
  const { highPassHz, lowPassHz, notchHz } = record.acquisition;
  item[TAG.ChannelDefinitionSequence] = {
    vr: "SQ",
    Value: group.channels.map((channel) => {
      const source = leadSourceCode(channel.name);
      const definition: DcmjsDataset = {};
      const label = channel.derived ? `${channel.name}${DERIVED_LABEL_SUFFIX}` : channel.name;
      put(definition, "ChannelLabel", "SH", text(label, 16));
      definition[TAG.ChannelSourceSequence] = { vr: "SQ", Value: [codeItem(source.code)] };
      if (channel.derived)
        put(
          definition,
          "ChannelDerivationDescription",
          "LO",
          "Computed by the gateway, not measured by the device",
        );
      put(definition, "ChannelSensitivity", "DS", channel.sensitivityUv);
      definition[TAG.ChannelSensitivityUnitsSequence] = { vr: "SQ", Value: [codeItem(UNITS.microvolt)] };
      put(definition, "ChannelSensitivityCorrectionFactor", "DS", "1");
      put(definition, "ChannelBaseline", "DS", "0");
      if (channel.timeSkewSeconds === undefined) put(definition, "ChannelSampleSkew", "DS", "0");
      else put(definition, "ChannelTimeSkew", "DS", channel.timeSkewSeconds);
      put(definition, "WaveformBitsStored", "US", 16);
      // FilterLowFrequency is the low edge of the pass band: the high-pass cut-off, and vice versa.
      if (highPassHz !== undefined && highPassHz >= 0)
        put(definition, "FilterLowFrequency", "DS", formatDs(highPassHz));
      if (lowPassHz !== undefined && lowPassHz > 0)
        put(definition, "FilterHighFrequency", "DS", formatDs(lowPassHz));
      if (notchHz !== undefined && notchHz > 0)
        put(definition, "NotchFilterFrequency", "DS", formatDs(notchHz));
      return definition;
    }),
  };
  put(item, "WaveformBitsAllocated", "US", 16);
  put(item, "WaveformSampleInterpretation", "CS", "SS");
  // Waveform Data is little endian (our transfer syntax), as Int16Array is on every platform we run on.
  const data = group.data;
  item[TAG.WaveformData] = {
    vr: "OW",
    Value: [data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)],
  };
  return item;
}

function annotationItems(
  record: EcgRecord,
  layout: WaveformLayout,
  notes: readonly string[],
): DcmjsDataset[] {
  const items: DcmjsDataset[] = [];
  const rhythmGroupNumbers = layout.groups.flatMap((group, index) =>
    group.kind === "rhythm" ? [index + 1] : [],
  );
  const wholeRhythm = rhythmGroupNumbers.flatMap((number) => [number, 0]);
  const firstRhythm = [rhythmGroupNumbers[0] ?? 1, 0];
  const textItem = (value: string, group: number, channels: number[]): DcmjsDataset => {
    const item: DcmjsDataset = {};
    put(item, "UnformattedTextValue", "ST", value);
    put(item, "ReferencedWaveformChannels", "US", channels);
    put(item, "AnnotationGroupNumber", "US", group);
    return item;
  };
  for (const statement of record.statements ?? []) {
    for (const chunk of chunks(cleanText(statement, true), MAX_ST))
      items.push(textItem(chunk, ANNOTATION_GROUP.statements, firstRhythm));
  }
  const measurements = record.measurements ?? {};
  for (const concept of MEASUREMENT_CONCEPTS) {
    const value = measurements[concept.key];
    if (value === undefined || !Number.isFinite(value)) continue;
    const item: DcmjsDataset = {};
    item[TAG.ConceptNameCodeSequence] = { vr: "SQ", Value: [codeItem(concept.name)] };
    put(item, "NumericValue", "DS", formatDs(value));
    item[TAG.MeasurementUnitsCodeSequence] = { vr: "SQ", Value: [codeItem(concept.unit)] };
    put(item, "ReferencedWaveformChannels", "US", firstRhythm);
    put(item, "AnnotationGroupNumber", "US", ANNOTATION_GROUP.measurements);
    items.push(item);
  }
  const rhythmLength = record.rhythm.leads[0]?.samples.length ?? 0;
  for (const gap of record.gaps ?? []) {
    const start = Math.max(0, Math.floor(gap.startSample));
    const end = Math.min(rhythmLength, start + Math.floor(gap.sampleCount)) - 1;
    if (end < start) continue;
    const item = textItem(GAP_ANNOTATION_TEXT, ANNOTATION_GROUP.gaps, wholeRhythm);
    put(item, "TemporalRangeType", "CS", "SEGMENT");
    put(item, "ReferencedSamplePositions", "UL", gapPositions(start, end, layout));
    items.push(item);
  }
  for (const note of notes) {
    for (const chunk of chunks(cleanText(note, true), MAX_ST))
      items.push(textItem(chunk, ANNOTATION_GROUP.notes, firstRhythm));
  }
  return items;
}

/**
 * First and last sample (1-based, PS3.3 C.10.10.1.2) of a gap in the first rhythm group, where
 * rhythm sample i lies at i × factor when upsampled and at ⌊i / k⌋ in phase group 1 of k.
 */
function gapPositions(start: number, end: number, layout: WaveformLayout): [number, number] {
  const rate = layout.rhythmRate;
  if (rate.kind === "upsample") return [start * rate.factor + 1, (end + 1) * rate.factor];
  if (rate.kind === "phases") return [Math.floor(start / rate.count) + 1, Math.floor(end / rate.count) + 1];
  return [start + 1, end + 1];
}

function codeItem(code: CodedConcept): DcmjsDataset {
  const item: DcmjsDataset = {};
  put(item, "CodeValue", "SH", code.codeValue);
  put(item, "CodingSchemeDesignator", "SH", code.codingSchemeDesignator);
  put(item, "CodeMeaning", "LO", code.codeMeaning);
  return item;
}

type Keyword = keyof typeof TAG;

/** Set an element; an empty string writes the element with no value (Type 2 "present but unknown"). */
function put(ds: DcmjsDataset, keyword: Keyword, vr: string, value: string | number | number[]): void {
  const tag = TAG[keyword];
  if (value === "") {
    ds[tag] = { vr, Value: [] };
    return;
  }
  if (Array.isArray(value)) {
    ds[tag] = { vr, Value: value };
    return;
  }
  ds[tag] = { vr, Value: [vr === "PN" ? { Alphabetic: value } : value] } as DcmjsElement;
}

/** Set a Type 3 text element only when there is text to write. */
function putIfText(
  ds: DcmjsDataset,
  keyword: Keyword,
  vr: string,
  value: string | undefined,
  max: number,
): void {
  const cleaned = text(value ?? "", max);
  if (cleaned !== "") put(ds, keyword, vr, cleaned);
}

/**
 * A single-valued text value (SH, LO, PN): no control characters, no backslash (the value
 * delimiter), no padding spaces, at most `max` characters.
 */
function text(value: string, max: number): string {
  return Array.from(cleanText(value, false).replaceAll("\\", "/").trim()).slice(0, max).join("");
}

/**
 * A PN value (PS3.5 6.2.1.1): up to three component groups of 64 characters. A group without a
 * "^" is the old ACR-NEMA free form to validators; EcgRecord names are `Family^Given`, so a
 * caret-less name is all family name, which a trailing "^" states explicitly ("张三" → "张三^").
 */
function personName(value: string): string {
  return text(value, 64 * 3)
    .split("=")
    .slice(0, 3)
    .map((group) => {
      const characters = Array.from(group.trim());
      if (characters.length === 0 || characters.includes("^")) return characters.slice(0, 64).join("");
      return `${characters.slice(0, 63).join("")}^`;
    })
    .join("=")
    .replace(/=+$/, "");
}

/** Control characters out; ST/LT keep line breaks (PS3.5 6.1.3), as CR LF. */
function cleanText(value: string, keepLineBreaks: boolean): string {
  const lines = keepLineBreaks ? value.split(/\r?\n/) : [value];
  return lines
    .map((line) =>
      Array.from(line, (character) => {
        const code = character.codePointAt(0) ?? 0;
        return code < 0x20 || code === 0x7f ? " " : character;
      }).join(""),
    )
    .join("\r\n");
}

function chunks(value: string, size: number): string[] {
  const characters = Array.from(value.trim());
  const out: string[] = [];
  for (let index = 0; index < characters.length; index += size)
    out.push(characters.slice(index, index + size).join(""));
  return out;
}

function hasNonAscii(value: unknown): boolean {
  if (typeof value === "string") return /[^\p{ASCII}]/u.test(value);
  if (Array.isArray(value)) return value.some(hasNonAscii);
  if (value instanceof ArrayBuffer) return false;
  if (value && typeof value === "object") return Object.values(value).some(hasNonAscii);
  return false;
}
