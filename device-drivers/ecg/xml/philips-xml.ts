/**
 * Philips SierraECG (1.03) / PhilipsECG (1.04, 1.04.01: PageWriter TC, IntelliSpace) XML → EcgRecord.
 *
 *   restingecgdata
 *     documentinfo/documentversion
 *     orderinfo/ordernumber                                  (1.04)
 *     reportinfo/reportbandwidth                             report filters
 *     dataacquisition@date@time  machine  acquirer  signalcharacteristics
 *     patient/generalpatientdata                             id, name, age|dateofbirth, sex, height, weight
 *     interpretations/interpretation                         measurements, statements, severity
 *     waveforms/parsedwaveforms                              rhythm: XLI-compressed, base64 or decimal
 *     waveforms/repbeats/repbeat[@leadname]/waveform         median beats (1.04, base64 int16)
 *
 * Amplitudes are in µV per unit ("resolution"), intervals in ms (schema 1.04.01 annotation).
 */
import type { EcgLead, EcgMeasurements, EcgRecord, EcgWaveform } from "../ecg-record.ts";
import { STANDARD_12_LEADS } from "../ecg-record.ts";
import { EcgXmlError } from "./errors.ts";
import { MAX_SAMPLES_PER_LEAD } from "./limits.ts";
import { assembleWaveform, checkLeadCount } from "./waveform.ts";
import { decodeXli, restorePhilipsLimbLeads } from "./xli.ts";
import { child, children, textAt, type XmlElement } from "./xml-tree.ts";
import {
  bytesFromBase64,
  clean,
  compact,
  dateFromIso,
  dicomAge,
  int16LittleEndian,
  integersFromText,
  normaliseLeadName,
  numberFrom,
  personName,
  timeFromColons,
} from "./xml-values.ts";

const INCH_CM = 2.54;
const POUND_KG = 0.45359237;

export function decodePhilipsDocument(root: XmlElement, notes: string[]): EcgRecord {
  const version = textAt(root, "documentinfo", "documentversion");
  const acquisition = child(root, "dataacquisition");
  const parsed = child(root, "waveforms", "parsedwaveforms");
  if (!parsed?.text) {
    throw new EcgXmlError("ECG_XML_NO_WAVEFORM", "Philips ECG XML has no waveforms/parsedwaveforms data");
  }
  const rhythm = rhythmFrom(parsed, acquisition, notes);
  const medianBeats = medianBeatsFrom(child(root, "waveforms", "repbeats"), notes);
  const interpretation = child(root, "interpretations", "interpretation");
  const measurements = measurementsFrom(interpretation);
  const statements = statementsFrom(interpretation);

  const record: EcgRecord = {
    source: compact({ format: "philips-xml" as const, version }),
    patient: patientFrom(child(root, "patient", "generalpatientdata")),
    acquisition: acquisitionFrom(root, acquisition, parsed),
    rhythm,
  };
  if (medianBeats) record.medianBeats = medianBeats;
  if (Object.keys(measurements).length > 0) record.measurements = measurements;
  if (statements.length > 0) record.statements = statements;
  if (notes.length > 0) record.notes = notes;
  return record;
}

/** Everything the parsedwaveforms element needs, from its attributes (1.04) or signalcharacteristics (1.03). */
interface RhythmLayout {
  rateHz: number;
  nanovoltsPerUnit: number;
  leadNames: string[];
  samplesPerLead: number | undefined;
  offset: number;
}

function rhythmLayout(parsed: XmlElement, acquisition: XmlElement | undefined): RhythmLayout {
  const signal = child(acquisition, "signalcharacteristics");
  const attributes = parsed.attributes;
  const rateHz = numberFrom(attributes.samplespersecond) ?? numberFrom(textAt(signal, "samplingrate"));
  const resolutionUv =
    numberFrom(attributes.resolution) ??
    numberFrom(textAt(signal, "resolution") ?? textAt(signal, "signalresolution"));
  if (rateHz === undefined || resolutionUv === undefined) {
    throw new EcgXmlError(
      "ECG_XML_MALFORMED",
      "Philips ECG XML states no sampling rate or resolution for its waveforms",
    );
  }
  const leadCount =
    numberFrom(attributes.numberofleads) ??
    numberFrom(textAt(signal, "numberchannelsvalid")) ??
    numberFrom(textAt(signal, "numberchannelsallocated"));
  // 1.04 names its leads; 1.03 says only "leadset STD-12", the standard 12 in order.
  const labels = attributes.leadlabels?.trim().split(/\s+/).map(normaliseLeadName) ?? [...STANDARD_12_LEADS];
  const count = leadCount === undefined ? labels.length : Math.min(Math.floor(leadCount), labels.length);
  if (!(count > 0)) throw new EcgXmlError("ECG_XML_NO_WAVEFORM", "Philips ECG XML declares no valid leads");
  checkLeadCount(count, "Philips rhythm");
  const durationMs = numberFrom(attributes.durationperchannel);
  const samplesPerLead = durationMs === undefined ? undefined : Math.round((durationMs * rateHz) / 1000);
  if (samplesPerLead !== undefined && samplesPerLead > MAX_SAMPLES_PER_LEAD) {
    throw new EcgXmlError(
      "ECG_XML_TOO_LARGE",
      `Philips rhythm declares ${samplesPerLead} samples per lead; too many`,
    );
  }
  const offset = numberFrom(attributes.signaloffset) ?? numberFrom(textAt(signal, "signaloffset")) ?? 0;
  return {
    rateHz,
    nanovoltsPerUnit: clean(resolutionUv * 1000),
    leadNames: labels.slice(0, count),
    samplesPerLead,
    offset,
  };
}

function rhythmFrom(parsed: XmlElement, acquisition: XmlElement | undefined, notes: string[]): EcgWaveform {
  const layout = rhythmLayout(parsed, acquisition);
  const attributes = parsed.attributes;
  const compression = (
    attributes.compression ??
    (attributes.compressflag === "True" ? attributes.compressmethod : undefined) ??
    ""
  )
    .trim()
    .toUpperCase();
  const encoding = (attributes.dataencoding ?? "Base64").trim().toLowerCase();
  const count = layout.leadNames.length;
  let leadSamples: Int32Array[];
  if (compression === "XLI") {
    if (encoding !== "base64") {
      throw new EcgXmlError(
        "ECG_XML_UNSUPPORTED",
        `Philips XLI waveforms in "${encoding.slice(0, 20)}" encoding`,
      );
    }
    const bytes = bytesFromBase64(parsed.text, "Philips parsedwaveforms");
    leadSamples = decodeXli(bytes, count, layout.samplesPerLead ?? MAX_SAMPLES_PER_LEAD);
    fitToDeclaredLength(leadSamples, layout.samplesPerLead, notes);
    const byName = new Map(layout.leadNames.map((name, k) => [name, leadSamples[k] as Int32Array]));
    restorePhilipsLimbLeads(byName);
  } else if (compression === "" || compression === "NONE") {
    leadSamples = uncompressedLeads(parsed.text, encoding, count, layout.samplesPerLead);
  } else {
    throw new EcgXmlError(
      "ECG_XML_UNSUPPORTED",
      `Philips waveform compression "${compression.slice(0, 20)}"`,
    );
  }
  if (layout.offset !== 0)
    for (const samples of leadSamples)
      for (let k = 0; k < samples.length; k++) samples[k] = (samples[k] as number) - layout.offset;
  const leads: EcgLead[] = layout.leadNames.map((name, k) => ({
    name,
    samples: leadSamples[k] as Int32Array,
    nanovoltsPerUnit: layout.nanovoltsPerUnit,
  }));
  const waveform = assembleWaveform(layout.rateHz, leads, "Philips rhythm", notes);
  noteCalibrationPulse(waveform, notes);
  return waveform;
}

/**
 * The declared duration (durationperchannel × rate) is the record's length. A chunk that
 * decompresses short is a broken file; one that decompresses long is cut, with a note.
 */
function fitToDeclaredLength(leads: Int32Array[], samplesPerLead: number | undefined, notes: string[]): void {
  if (samplesPerLead === undefined) return;
  leads.forEach((samples, k) => {
    if (samples.length < samplesPerLead) {
      throw new EcgXmlError(
        "ECG_XML_XLI_CORRUPT",
        `XLI lead ${k + 1} decompresses to ${samples.length} samples; the document declares ${samplesPerLead}`,
      );
    }
    if (samples.length > samplesPerLead) {
      notes.push(
        `Philips XLI lead ${k + 1} held ${samples.length - samplesPerLead} samples past the declared duration; cut`,
      );
      leads[k] = samples.slice(0, samplesPerLead);
    }
  });
}

/** Base64 int16 little-endian or decimal text, leads one after another ("Plain" in Philips' words). */
function uncompressedLeads(
  text: string,
  encoding: string,
  count: number,
  samplesPerLead: number | undefined,
): Int32Array[] {
  let all: Int32Array;
  if (encoding === "base64")
    all = int16LittleEndian(bytesFromBase64(text, "Philips parsedwaveforms"), "Philips parsedwaveforms");
  else if (encoding === "plain" || encoding === "ascii")
    all = integersFromText(text, "Philips parsedwaveforms", MAX_SAMPLES_PER_LEAD * count);
  else
    throw new EcgXmlError("ECG_XML_UNSUPPORTED", `Philips waveform data encoding "${encoding.slice(0, 20)}"`);
  const perLead = samplesPerLead ?? Math.floor(all.length / count);
  if (perLead * count > all.length) {
    throw new EcgXmlError(
      "ECG_XML_MALFORMED",
      `Philips parsedwaveforms holds ${all.length} samples, fewer than ${count} leads × ${perLead}`,
    );
  }
  return Array.from({ length: count }, (_, k) => all.slice(k * perLead, (k + 1) * perLead));
}

/**
 * Philips carts append a 1 mV calibration pulse after the 10-s recording (same value in every lead,
 * e.g. samples 5350–5449 of 5500 at 500 Hz). It is kept (the file's duration is the record's) and
 * reported, so a reader does not mistake it for a complex.
 */
function noteCalibrationPulse(waveform: EcgWaveform, notes: string[]): void {
  const rate = waveform.samplingFrequencyHz;
  const from = Math.round(10 * rate);
  const minimumRun = Math.round(0.05 * rate);
  const length = waveform.leads[0]?.samples.length ?? 0;
  let runStart = -1;
  for (let k = from; k <= length; k++) {
    const value = k < length ? waveform.leads[0]?.samples[k] : undefined;
    const same =
      value !== undefined && value !== 0 && waveform.leads.every((lead) => lead.samples[k] === value);
    if (same && runStart < 0) runStart = k;
    if (!same && runStart >= 0) {
      if (k - runStart >= minimumRun) {
        notes.push(
          `Philips calibration pulse (same value in every lead) at ${(runStart / rate).toFixed(2)}–${(k / rate).toFixed(2)} s`,
        );
        return;
      }
      runStart = -1;
    }
  }
}

/** 1.04 repbeats: one base64 int16 beat per lead at repbeats@samplespersec, resolution µV. */
function medianBeatsFrom(repbeats: XmlElement | undefined, notes: string[]): EcgWaveform | undefined {
  const beats = children(repbeats, "repbeat").filter((beat) => textAt(beat, "waveform"));
  if (!repbeats || beats.length === 0) return undefined;
  const rateHz = numberFrom(repbeats.attributes.samplespersec ?? repbeats.attributes.samplespersecond);
  const resolutionUv = numberFrom(repbeats.attributes.resolution);
  const encoding = (repbeats.attributes.dataencoding ?? "Base64").toLowerCase();
  if (rateHz === undefined || resolutionUv === undefined) {
    notes.push("Philips representative beats state no sampling rate or resolution; left out");
    return undefined;
  }
  checkLeadCount(beats.length, "Philips median beats");
  const leads = beats.map((beat): EcgLead => {
    const name = normaliseLeadName(beat.attributes.leadname ?? "");
    const text = textAt(beat, "waveform") ?? "";
    const what = `Philips representative beat ${name}`;
    const samples =
      encoding === "base64"
        ? int16LittleEndian(bytesFromBase64(text, what), what)
        : integersFromText(text, what, MAX_SAMPLES_PER_LEAD);
    return { name, samples, nanovoltsPerUnit: clean(resolutionUv * 1000) };
  });
  return assembleWaveform(rateHz, leads, "Philips median beats", notes);
}

function patientFrom(general: XmlElement | undefined): EcgRecord["patient"] {
  const age = child(general, "age");
  const sex = textAt(general, "sex")?.toLowerCase();
  const heightCm =
    numberFrom(textAt(general, "height", "cm")) ??
    scaled(numberFrom(textAt(general, "height", "inch")), INCH_CM);
  const weightKg =
    numberFrom(textAt(general, "weight", "kg")) ??
    scaled(numberFrom(textAt(general, "weight", "lb")), POUND_KG);
  return compact({
    id: textAt(general, "patientid"),
    name: personName(textAt(general, "name", "lastname"), textAt(general, "name", "firstname")),
    sex: sex === "male" ? ("M" as const) : sex === "female" ? ("F" as const) : undefined,
    birthDate: dateFromIso(textAt(age, "dateofbirth")),
    age:
      dicomAge(numberFrom(textAt(age, "years")), "Y") ??
      dicomAge(numberFrom(textAt(age, "months")), "M") ??
      dicomAge(numberFrom(textAt(age, "weeks")), "W") ??
      dicomAge(numberFrom(textAt(age, "days")), "D"),
    heightCm: heightCm !== undefined && heightCm > 0 ? heightCm : undefined,
    weightKg: weightKg !== undefined && weightKg > 0 ? weightKg : undefined,
  });
}

function scaled(value: number | undefined, factor: number): number | undefined {
  return value === undefined ? undefined : Math.round(value * factor * 10) / 10;
}

function acquisitionFrom(
  root: XmlElement,
  acquisition: XmlElement | undefined,
  parsed: XmlElement,
): EcgRecord["acquisition"] {
  const machine = child(acquisition, "machine");
  const acquirer = child(acquisition, "acquirer");
  // machine@detaildescription is "MFG:MODEL:SW_REV" by the schema's convention.
  const [maker, , software] = (machine?.attributes.detaildescription ?? "")
    .split(":")
    .map((part) => part.trim());
  const operator = child(acquirer, "operator");
  const referring = child(acquirer, "referringclinician");
  return compact({
    date: dateFromIso(acquisition?.attributes.date),
    time: timeFromColons(acquisition?.attributes.time),
    manufacturer: maker || "Philips",
    model: machine?.text || undefined,
    deviceSerialNumber: machine?.attributes.machineid?.trim() || undefined,
    softwareVersion: software || undefined,
    institution: textAt(acquirer, "institutionname"),
    department: textAt(acquirer, "departmentname") ?? textAt(acquirer, "departmentid"),
    operator: operator?.text || operator?.attributes.id?.trim() || textAt(acquirer, "operatorid"),
    referringPhysician: referring?.text || undefined,
    accessionNumber: textAt(root, "orderinfo", "ordernumber"),
    ...filtersFrom(root, acquisition, parsed),
  });
}

/**
 * The bandwidth of the stored samples: 1.04 states it on parsedwaveforms; 1.03 in
 * signalcharacteristics/signalbandwidth ("0.05-150"), or the report's filters when its
 * parsedwaveforms@filterflag says those were applied to the data.
 */
function filtersFrom(
  root: XmlElement,
  acquisition: XmlElement | undefined,
  parsed: XmlElement,
): Pick<EcgRecord["acquisition"], "lowPassHz" | "highPassHz" | "notchHz"> {
  const attributes = parsed.attributes;
  const report = child(root, "reportinfo", "reportbandwidth");
  if (attributes.hipass !== undefined || attributes.lowpass !== undefined) {
    const notchFiltered = attributes.notchfiltered === "True";
    return compact({
      highPassHz: numberFrom(attributes.hipass),
      lowPassHz: numberFrom(attributes.lowpass),
      notchHz: notchFiltered ? numberFrom(attributes.notchfilterfreqs?.trim().split(/\s+/)[0]) : undefined,
    });
  }
  if (attributes.filterflag === "True" && report) {
    return compact({
      highPassHz: numberFrom(textAt(report, "highpassfiltersetting")),
      lowPassHz: numberFrom(textAt(report, "lowpassfiltersetting")),
      notchHz: numberFrom(textAt(report, "notchfiltersetting")),
    });
  }
  const band = /^\s*([\d.]+)\s*-\s*([\d.]+)\s*$/.exec(
    textAt(acquisition, "signalcharacteristics", "signalbandwidth") ?? "",
  );
  return band ? { highPassHz: Number(band[1]), lowPassHz: Number(band[2]) } : {};
}

/** 1.04 interpretation/globalmeasurements; 1.03 interpretation/interpretationmeasurements. */
function measurementsFrom(interpretation: XmlElement | undefined): EcgMeasurements {
  const global = child(interpretation, "globalmeasurements");
  const older = child(interpretation, "interpretationmeasurements");
  const value = (...names: string[]) => {
    for (const source of [global, older]) {
      for (const name of names) {
        const number = numberFrom(textAt(source, name));
        if (number !== undefined) return number;
      }
    }
    return undefined;
  };
  return compact({
    heartRateBpm: value("heartrate"),
    rrIntervalMs: value("rrint"),
    prIntervalMs: value("print", "meanprint"),
    qrsDurationMs: value("qrsdur", "meanqrsdur"),
    qtIntervalMs: value("qtint", "meanqtint"),
    qtcIntervalMs: value("qtcb", "meanqtc"),
    pAxisDeg: value("pfrontaxis"),
    qrsAxisDeg: value("qrsfrontaxis"),
    tAxisDeg: value("tfrontaxis"),
  });
}

/**
 * The statements as the cart prints them: each "left (right)" — the finding and its reason — then
 * the severity line ("- ABNORMAL ECG -") and the signature line ("Unconfirmed diagnosis").
 */
function statementsFrom(interpretation: XmlElement | undefined): string[] {
  const statements: string[] = [];
  for (const statement of children(interpretation, "statement")) {
    const left = textAt(statement, "leftstatement");
    const right = textAt(statement, "rightstatement");
    if (left && right) statements.push(`${left} (${right})`);
    else if (left ?? right) statements.push((left ?? right) as string);
  }
  for (const line of [textAt(interpretation, "severity"), textAt(interpretation, "mdsignatureline")]) {
    if (line) statements.push(line);
  }
  return statements;
}
