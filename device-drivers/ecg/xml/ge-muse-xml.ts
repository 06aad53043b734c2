/**
 * GE MUSE RestingECG XML (ISO-8859-1, DOCTYPE restecg.dtd) → EcgRecord.
 *
 *   RestingECG
 *     MuseInfo/MuseVersion
 *     PatientDemographics        PatientID, names, Gender, DateofBirth (MM-DD-YYYY), PatientAge+AgeUnits
 *     TestDemographics           AcquisitionDate/Time, AcquisitionDevice, site, location, technician
 *     RestingECGMeasurements     VentricularRate, PRInterval, QRSDuration, QTInterval, QTCorrected, axes
 *     Diagnosis|OriginalDiagnosis/DiagnosisStatement   StmtText; StmtFlag ENDSLINE closes a line
 *     Waveform[WaveformType Rhythm|Median]
 *       SampleBase×10^SampleExponent, HighPassFilter (0.01 Hz), LowPassFilter, ACFilter
 *       LeadData: LeadID, WaveFormData (base64 int16 LE), LeadAmplitudeUnitsPerBit+Units, LeadDataCRC32
 *
 * MUSE stores the 8 independent leads (I, II, V1–V6); the box derives III, aVR, aVL and aVF.
 */
import { crc32 } from "node:zlib";
import { withDerivedLimbLeads } from "../derive-leads.ts";
import type { EcgLead, EcgMeasurements, EcgRecord, EcgWaveform } from "../ecg-record.ts";
import { EcgXmlError } from "./errors.ts";
import { assembleWaveform, checkLeadCount } from "./waveform.ts";
import { child, children, textAt, type XmlElement } from "./xml-tree.ts";
import {
  bytesFromBase64,
  clean,
  compact,
  dateFromMonthDayYear,
  dicomAge,
  int16LittleEndian,
  normaliseLeadName,
  numberFrom,
  personName,
  timeFromColons,
} from "./xml-values.ts";

const NANOVOLTS_PER: Record<string, number> = { NANOVOLTS: 1, MICROVOLTS: 1000, MILLIVOLTS: 1e6, VOLTS: 1e9 };
const AGE_UNITS: Record<string, "Y" | "M" | "W" | "D"> = { YEARS: "Y", MONTHS: "M", WEEKS: "W", DAYS: "D" };

export function decodeGeMuseDocument(root: XmlElement, notes: string[]): EcgRecord {
  const waveforms = children(root, "Waveform");
  const typed = (type: string) => waveforms.find((w) => textAt(w, "WaveformType")?.toLowerCase() === type);
  const rhythmBlock = typed("rhythm");
  if (!rhythmBlock || children(rhythmBlock, "LeadData").length === 0) {
    throw new EcgXmlError("ECG_XML_NO_WAVEFORM", "GE MUSE XML has no Rhythm waveform with lead data");
  }
  const rhythm = completeLeads(waveformOf(rhythmBlock, "rhythm", notes), "rhythm", notes);
  const medianBlock = typed("median");
  const medianBeats =
    medianBlock && children(medianBlock, "LeadData").length > 0
      ? completeLeads(waveformOf(medianBlock, "median beats", notes), "median beats", notes)
      : undefined;
  const measurements = measurementsFrom(root);
  const statements = statementsFrom(child(root, "Diagnosis") ?? child(root, "OriginalDiagnosis"));

  const record: EcgRecord = {
    source: compact({ format: "ge-muse-xml" as const, version: textAt(root, "MuseInfo", "MuseVersion") }),
    patient: patientFrom(child(root, "PatientDemographics")),
    acquisition: acquisitionFrom(root, rhythmBlock),
    rhythm,
  };
  if (medianBeats) record.medianBeats = medianBeats;
  if (Object.keys(measurements).length > 0) record.measurements = measurements;
  if (statements.length > 0) record.statements = statements;
  if (notes.length > 0) record.notes = notes;
  return record;
}

function waveformOf(block: XmlElement, what: string, notes: string[]): EcgWaveform {
  const base = numberFrom(textAt(block, "SampleBase"));
  const exponent = numberFrom(textAt(block, "SampleExponent")) ?? 0;
  if (base === undefined) throw new EcgXmlError("ECG_XML_MALFORMED", `GE MUSE ${what}: no SampleBase`);
  const leadData = children(block, "LeadData");
  checkLeadCount(leadData.length, `GE MUSE ${what}`);
  const leads = leadData.map((data) => leadOf(data, what));
  return assembleWaveform(clean(base * 10 ** exponent), leads, `GE MUSE ${what}`, notes);
}

function leadOf(data: XmlElement, what: string): EcgLead {
  const name = normaliseLeadName(textAt(data, "LeadID") ?? "");
  const label = `GE MUSE ${what} lead ${name || "(no LeadID)"}`;
  if (!name) throw new EcgXmlError("ECG_XML_MALFORMED", `${label}: no LeadID`);
  const sampleSize = numberFrom(textAt(data, "LeadSampleSize")) ?? 2;
  if (sampleSize !== 2)
    throw new EcgXmlError("ECG_XML_UNSUPPORTED", `${label}: ${sampleSize}-byte samples; MUSE writes 2`);
  const bytes = bytesFromBase64(textAt(data, "WaveFormData") ?? "", label);
  const declaredCrc = numberFrom(textAt(data, "LeadDataCRC32"));
  // MUSE checksums each lead's bytes (CRC-32, as zlib computes it): a mismatch is a damaged file.
  if (declaredCrc !== undefined && crc32(bytes) !== declaredCrc) {
    throw new EcgXmlError("ECG_XML_MALFORMED", `${label}: waveform bytes do not match LeadDataCRC32`);
  }
  const samples = int16LittleEndian(bytes, label);
  const declaredCount = numberFrom(textAt(data, "LeadSampleCountTotal"));
  if (declaredCount !== undefined && declaredCount !== samples.length) {
    throw new EcgXmlError(
      "ECG_XML_MALFORMED",
      `${label}: ${samples.length} samples, LeadSampleCountTotal says ${declaredCount}`,
    );
  }
  const perBit = numberFrom(textAt(data, "LeadAmplitudeUnitsPerBit"));
  const unit = NANOVOLTS_PER[(textAt(data, "LeadAmplitudeUnits") ?? "MICROVOLTS").toUpperCase()];
  if (perBit === undefined || perBit <= 0 || unit === undefined) {
    throw new EcgXmlError("ECG_XML_MALFORMED", `${label}: amplitude units per bit missing or not a voltage`);
  }
  return { name, samples, nanovoltsPerUnit: clean(perBit * unit) };
}

/** III, aVR, aVL, aVF from I and II when MUSE left them out (it always does), with a note. */
function completeLeads(waveform: EcgWaveform, what: string, notes: string[]): EcgWaveform {
  const completed = withDerivedLimbLeads(waveform);
  const derived = completed.leads.filter((lead) => lead.derived).map((lead) => lead.name);
  if (derived.length > 0)
    notes.push(`GE MUSE ${what}: ${derived.join(", ")} derived by the box from I and II`);
  return completed;
}

function patientFrom(demographics: XmlElement | undefined): EcgRecord["patient"] {
  const gender = textAt(demographics, "Gender")?.toUpperCase();
  const ageUnit = AGE_UNITS[(textAt(demographics, "AgeUnits") ?? "YEARS").toUpperCase()];
  const heightCm =
    numberFrom(textAt(demographics, "HeightCM")) ??
    inCentimetres(numberFrom(textAt(demographics, "HeightIN")));
  const weightKg =
    numberFrom(textAt(demographics, "WeightKG")) ??
    inKilograms(numberFrom(textAt(demographics, "WeightLBS")));
  return compact({
    id: textAt(demographics, "PatientID"),
    name: personName(textAt(demographics, "PatientLastName"), textAt(demographics, "PatientFirstName")),
    sex: gender === "MALE" ? ("M" as const) : gender === "FEMALE" ? ("F" as const) : undefined,
    birthDate: dateFromMonthDayYear(textAt(demographics, "DateofBirth")),
    age: ageUnit ? dicomAge(numberFrom(textAt(demographics, "PatientAge")), ageUnit) : undefined,
    heightCm: heightCm !== undefined && heightCm > 0 ? heightCm : undefined,
    weightKg: weightKg !== undefined && weightKg > 0 ? weightKg : undefined,
  });
}

function inCentimetres(inches: number | undefined): number | undefined {
  return inches === undefined ? undefined : Math.round(inches * 25.4) / 10;
}

function inKilograms(pounds: number | undefined): number | undefined {
  return pounds === undefined ? undefined : Math.round(pounds * 4.5359237) / 10;
}

function acquisitionFrom(root: XmlElement, rhythm: XmlElement): EcgRecord["acquisition"] {
  const test = child(root, "TestDemographics");
  // MUSE writes the high-pass corner in hundredths of a hertz (16 = 0.16 Hz, 56 = 0.56 Hz).
  const highPass = numberFrom(textAt(rhythm, "HighPassFilter"));
  return compact({
    date: dateFromMonthDayYear(textAt(test, "AcquisitionDate")),
    time: timeFromColons(textAt(test, "AcquisitionTime")),
    model: textAt(test, "AcquisitionDevice"),
    // PharmaCartID is the cart's serial number in MUSE's research ("Pharma") export.
    deviceSerialNumber: textAt(root, "PharmaData", "PharmaCartID"),
    softwareVersion: textAt(test, "AcquisitionSoftwareVersion"),
    institution: textAt(test, "SiteName"),
    department: textAt(test, "LocationName"),
    operator: personName(textAt(test, "AcquisitionTechLastName"), textAt(test, "AcquisitionTechFirstName")),
    referringPhysician: personName(textAt(test, "ReferringMDLastName"), textAt(test, "ReferringMDFirstName")),
    highPassHz: highPass === undefined ? undefined : highPass / 100,
    lowPassHz: numberFrom(textAt(rhythm, "LowPassFilter")),
    notchHz: numberFrom(textAt(rhythm, "ACFilter")),
  });
}

function measurementsFrom(root: XmlElement): EcgMeasurements {
  const m = child(root, "RestingECGMeasurements") ?? child(root, "OriginalRestingECGMeasurements");
  const value = (name: string) => numberFrom(textAt(m, name));
  return compact({
    heartRateBpm: value("VentricularRate"),
    rrIntervalMs: numberFrom(textAt(root, "QRSTimesTypes", "GlobalRR")),
    prIntervalMs: value("PRInterval"),
    qrsDurationMs: value("QRSDuration"),
    qtIntervalMs: value("QTInterval"),
    qtcIntervalMs: value("QTCorrected"),
    pAxisDeg: value("PAxis"),
    qrsAxisDeg: value("RAxis"),
    tAxisDeg: value("TAxis"),
  });
}

/**
 * MUSE splits a printed line into several DiagnosisStatements; the one flagged ENDSLINE ends it.
 * Statements are joined into the lines the cart prints.
 */
function statementsFrom(diagnosis: XmlElement | undefined): string[] {
  const lines: string[] = [];
  let line: string[] = [];
  for (const statement of children(diagnosis, "DiagnosisStatement")) {
    const text = textAt(statement, "StmtText");
    if (text) line.push(text);
    if (
      children(statement, "StmtFlag").some((flag) => flag.text.toUpperCase() === "ENDSLINE") &&
      line.length > 0
    ) {
      lines.push(line.join(" "));
      line = [];
    }
  }
  if (line.length > 0) lines.push(line.join(" "));
  return lines;
}
