/**
 * HL7 v3 Annotated ECG (aECG, PORT_MT020001, the FDA's format) → EcgRecord.
 *
 *   AnnotatedECG
 *     effectiveTime/center|low                     acquisition date and time
 *     componentOf/…/subjectAssignment/subject/trialSubject   id, subjectDemographicPerson
 *     component/series[code RHYTHM]
 *       author/seriesAuthor                          device
 *       controlVariable                              filters
 *       component/sequenceSet/component/sequence     GLIST_TS|GLIST_PQ time + one SLIST_PQ per lead
 *       subjectOf/annotationSet                      rhythm statements, interpretation
 *       derivation/derivedSeries[REPRESENTATIVE_BEAT]  median beats + global measurements
 *
 * Lead samples stay the file's digits: physical value = origin + scale × digit, so the unit size is
 * the scale in nanovolts and the origin, when not zero, is added in whole units.
 */
import type { EcgLead, EcgMeasurements, EcgRecord, EcgWaveform } from "../ecg-record.ts";
import { EcgXmlError } from "./errors.ts";
import { MAX_SAMPLES_PER_LEAD } from "./limits.ts";
import { assembleWaveform, checkLeadCount } from "./waveform.ts";
import { attributeAt, child, children, textAt, type XmlElement } from "./xml-tree.ts";
import {
  clean,
  compact,
  dateTimeFromHl7,
  dicomAge,
  integersFromText,
  normaliseLeadName,
  numberFrom,
  personName,
} from "./xml-values.ts";

const NANOVOLTS_PER: Record<string, number> = { nV: 1, uV: 1000, µV: 1000, μV: 1000, mV: 1e6, V: 1e9 };
const SECONDS_PER: Record<string, number> = { s: 1, ms: 1e-3, us: 1e-6, µs: 1e-6 };
const MILLISECONDS_PER: Record<string, number> = { ms: 1, s: 1000 };
const AGE_UNITS: Record<string, "Y" | "M" | "W" | "D"> = { a: "Y", mo: "M", wk: "W", d: "D" };

/** LOINC 21612-7 "Reported age", the code aECG uses for the subject's age. */
const REPORTED_AGE = "21612-7";

export function decodeHl7AecgDocument(root: XmlElement, notes: string[]): EcgRecord {
  const rhythmSeries = findRhythmSeries(root, notes);
  if (!rhythmSeries) {
    throw new EcgXmlError(
      "ECG_XML_NO_WAVEFORM",
      "HL7 aECG has no rhythm series (component/series): nothing to decode",
    );
  }
  const rhythm = waveformOf(rhythmSeries, "rhythm", notes);
  if (!rhythm) {
    throw new EcgXmlError(
      "ECG_XML_NO_WAVEFORM",
      "HL7 aECG rhythm series holds no lead sequences with digits",
    );
  }
  const derivedSeries = children(child(rhythmSeries, "derivation"), "derivedSeries").find(isBeatSeries);
  const medianBeats = derivedSeries ? waveformOf(derivedSeries, "median beats", notes) : undefined;

  // Global measurements are made on the representative beat, so its annotations come first; the
  // rhythm series' top-level annotations fill what it lacks.
  const annotationSets = [...annotationSetsOf(derivedSeries), ...annotationSetsOf(rhythmSeries)];
  const measurements = measurementsFrom(annotationSets);
  const statements = statementsFrom([...annotationSetsOf(rhythmSeries), ...annotationSetsOf(derivedSeries)]);

  const record: EcgRecord = {
    source: { format: "hl7-aecg" },
    patient: patientFrom(root),
    acquisition: acquisitionFrom(root, rhythmSeries),
    rhythm,
  };
  if (medianBeats) record.medianBeats = medianBeats;
  if (Object.keys(measurements).length > 0) record.measurements = measurements;
  if (statements.length > 0) record.statements = statements;
  if (notes.length > 0) record.notes = notes;
  return record;
}

function findRhythmSeries(root: XmlElement, notes: string[]): XmlElement | undefined {
  const series = children(root, "component").flatMap((component) => children(component, "series"));
  const rhythm = series.filter((s) => codeOf(s) === "RHYTHM");
  // A series without the RHYTHM code is still the rhythm if it is the only one (older exports).
  const chosen = rhythm[0] ?? (series.length === 1 ? series[0] : undefined);
  if (rhythm.length > 1) notes.push(`HL7 aECG: ${rhythm.length - 1} further rhythm series ignored`);
  return chosen;
}

function isBeatSeries(series: XmlElement): boolean {
  const code = codeOf(series) ?? "";
  return code.includes("BEAT") || code.includes("MEDIAN");
}

function codeOf(element: XmlElement | undefined): string | undefined {
  return attributeAt(element, "code", "code");
}

/** The first sequence set of a series that holds lead sequences, as a waveform. */
function waveformOf(series: XmlElement, what: string, notes: string[]): EcgWaveform | undefined {
  const sets = children(series, "component").flatMap((component) => children(component, "sequenceSet"));
  const withLeads = sets.filter((set) => sequencesOf(set).some((s) => !isTimeSequence(s)));
  const set = withLeads[0];
  if (!set) return undefined;
  if (withLeads.length > 1)
    notes.push(`HL7 aECG ${what}: ${withLeads.length - 1} further sequence sets ignored`);

  const sequences = sequencesOf(set);
  const time = sequences.find(isTimeSequence);
  const leadSequences = sequences.filter((s) => !isTimeSequence(s));
  checkLeadCount(leadSequences.length, `HL7 aECG ${what}`);
  const rate = samplingRateOf(time, what);
  const leads = leadSequences.map((sequence) => leadOf(sequence, what, notes));
  return assembleWaveform(rate, leads, `HL7 aECG ${what}`, notes);
}

function sequencesOf(set: XmlElement): XmlElement[] {
  return children(set, "component").flatMap((component) => children(component, "sequence"));
}

function isTimeSequence(sequence: XmlElement): boolean {
  return (codeOf(sequence) ?? "").startsWith("TIME_");
}

/** 1 / increment of the GLIST time sequence ("0.002 s" → 500 Hz). */
function samplingRateOf(time: XmlElement | undefined, what: string): number {
  const value = child(time, "value");
  const type = value?.attributes.type;
  if (!time || !value) {
    throw new EcgXmlError("ECG_XML_MALFORMED", `HL7 aECG ${what}: the sequence set has no time sequence`);
  }
  if (type !== "GLIST_TS" && type !== "GLIST_PQ") {
    throw new EcgXmlError(
      "ECG_XML_UNSUPPORTED",
      `HL7 aECG ${what}: time sequence of type ${String(type).slice(0, 20)}; only evenly sampled GLIST_TS/GLIST_PQ is supported`,
    );
  }
  const increment = numberFrom(attributeAt(value, "value", "increment"));
  const unit = attributeAt(value, "unit", "increment") ?? "s";
  const seconds = SECONDS_PER[unit];
  if (increment === undefined || increment <= 0 || seconds === undefined) {
    throw new EcgXmlError(
      "ECG_XML_MALFORMED",
      `HL7 aECG ${what}: the time increment is missing or not a time`,
    );
  }
  return clean(1 / (increment * seconds));
}

function leadOf(sequence: XmlElement, what: string, notes: string[]): EcgLead {
  const name = normaliseLeadName(codeOf(sequence) ?? "");
  const label = `HL7 aECG ${what} lead ${name || "(no code)"}`;
  if (!name) throw new EcgXmlError("ECG_XML_MALFORMED", `${label}: the sequence has no lead code`);
  const value = child(sequence, "value");
  if (value?.attributes.type !== "SLIST_PQ") {
    throw new EcgXmlError(
      "ECG_XML_UNSUPPORTED",
      `${label}: values of type ${String(value?.attributes.type).slice(0, 20)}; only SLIST_PQ is supported`,
    );
  }
  const scale = physicalQuantity(child(value, "scale"), NANOVOLTS_PER);
  if (scale === undefined || scale <= 0) {
    throw new EcgXmlError("ECG_XML_MALFORMED", `${label}: scale is missing or not a voltage`);
  }
  const origin = child(value, "origin") ? physicalQuantity(child(value, "origin"), NANOVOLTS_PER) : 0;
  if (origin === undefined) throw new EcgXmlError("ECG_XML_MALFORMED", `${label}: origin is not a voltage`);
  const samples = integersFromText(child(value, "digits")?.text ?? "", label, MAX_SAMPLES_PER_LEAD);
  if (origin !== 0) {
    // Samples stay integers in units of the scale; a whole-unit origin is exact, any other is
    // rounded to the nearest unit (at most half a unit, inside the quantisation of the digits).
    const units = origin / scale;
    const whole = Math.round(units);
    if (Math.abs(units - whole) > 1e-9)
      notes.push(`${label}: origin is not a whole number of units; rounded`);
    for (let k = 0; k < samples.length; k++) samples[k] = (samples[k] as number) + whole;
  }
  return { name, samples, nanovoltsPerUnit: clean(scale) };
}

/** A PQ element's value converted with the unit table, or undefined for a missing value/unknown unit. */
function physicalQuantity(
  element: XmlElement | undefined,
  units: Record<string, number>,
): number | undefined {
  const value = numberFrom(element?.attributes.value);
  const factor = units[element?.attributes.unit ?? ""];
  return value === undefined || factor === undefined ? undefined : value * factor;
}

function patientFrom(root: XmlElement): EcgRecord["patient"] {
  const trialSubject = child(
    root,
    "componentOf",
    "timepointEvent",
    "componentOf",
    "subjectAssignment",
    "subject",
    "trialSubject",
  );
  const person = child(trialSubject, "subjectDemographicPerson");
  const nameElement = child(person, "name");
  const name = nameElement
    ? personName(textAt(nameElement, "family") ?? nameElement.text, textAt(nameElement, "given"))
    : undefined;
  const gender = attributeAt(person, "code", "administrativeGenderCode")?.toUpperCase();
  const reportedAge = children(root, "controlVariable")
    .map((variable) => child(variable, "relatedObservation"))
    .find((observation) => codeOf(observation) === REPORTED_AGE);
  const ageUnit = AGE_UNITS[attributeAt(reportedAge, "unit", "value") ?? "a"];
  return compact({
    id: attributeAt(trialSubject, "extension", "id") ?? attributeAt(trialSubject, "root", "id"),
    name,
    sex: gender === "M" || gender === "F" ? gender : undefined,
    birthDate: dateTimeFromHl7(attributeAt(person, "value", "birthTime")).date,
    age: ageUnit ? dicomAge(numberFrom(attributeAt(reportedAge, "value", "value")), ageUnit) : undefined,
  });
}

function acquisitionFrom(root: XmlElement, series: XmlElement): EcgRecord["acquisition"] {
  // The ECG's own time; the rhythm series' start when the document leaves it out.
  const when = dateTimeFromHl7(
    attributeAt(root, "value", "effectiveTime", "center") ??
      attributeAt(root, "value", "effectiveTime", "low") ??
      attributeAt(series, "value", "effectiveTime", "low"),
  );
  const author = child(series, "author", "seriesAuthor");
  const device = child(author, "manufacturedSeriesDevice");
  const performer = child(series, "secondaryPerformer", "seriesPerformer");
  const filters = filtersFrom(series);
  return compact({
    date: when.date,
    time: when.time,
    manufacturer: textAt(author, "manufacturerOrganization", "name"),
    model: textAt(device, "manufacturerModelName"),
    deviceSerialNumber: attributeAt(device, "extension", "id"),
    softwareVersion: textAt(device, "softwareName"),
    institution:
      textAt(root, "location", "testingSite", "location", "name") ??
      textAt(
        root,
        "componentOf",
        "timepointEvent",
        "componentOf",
        "subjectAssignment",
        "componentOf",
        "clinicalTrial",
        "location",
        "trialSite",
        "location",
        "name",
      ),
    operator: textAt(performer, "assignedPerson", "name") ?? attributeAt(performer, "extension", "id"),
    ...filters,
  });
}

/** series/controlVariable/controlVariable[FILTER_*]/component/controlVariable[…_FREQ]/value (PQ, Hz). */
function filtersFrom(
  series: XmlElement,
): Pick<EcgRecord["acquisition"], "lowPassHz" | "highPassHz" | "notchHz"> {
  const result: Pick<EcgRecord["acquisition"], "lowPassHz" | "highPassHz" | "notchHz"> = {};
  for (const outer of children(series, "controlVariable")) {
    const filter = child(outer, "controlVariable");
    const code = codeOf(filter);
    const frequency = children(filter, "component")
      .map((component) => child(component, "controlVariable"))
      .filter((variable) => (codeOf(variable) ?? "").endsWith("_FREQ"))
      .map((variable) => physicalQuantity(child(variable, "value"), { Hz: 1 }))
      .find((hz) => hz !== undefined);
    if (frequency === undefined) continue;
    if (code === "MDC_ECG_CTL_VBL_ATTR_FILTER_LOW_PASS") result.lowPassHz = frequency;
    else if (code === "MDC_ECG_CTL_VBL_ATTR_FILTER_HIGH_PASS") result.highPassHz = frequency;
    else if (code === "MDC_ECG_CTL_VBL_ATTR_FILTER_NOTCH") result.notchHz = frequency;
  }
  return result;
}

function annotationSetsOf(series: XmlElement | undefined): XmlElement[] {
  return children(series, "subjectOf").flatMap((subjectOf) => children(subjectOf, "annotationSet"));
}

/** The annotations directly in a set or a container annotation (component/annotation). */
function annotationsIn(parent: XmlElement): XmlElement[] {
  return children(parent, "component").flatMap((component) => children(component, "annotation"));
}

type MeasurementField = keyof EcgMeasurements;

const MEASUREMENT_CODES: [code: string, field: MeasurementField, units: Record<string, number>][] = [
  ["MDC_ECG_HEART_RATE", "heartRateBpm", { bpm: 1, "/min": 1, "{beats}/min": 1, "{beat}/min": 1 }],
  ["MDC_ECG_TIME_PD_RR", "rrIntervalMs", MILLISECONDS_PER],
  ["MDC_ECG_TIME_PD_PR", "prIntervalMs", MILLISECONDS_PER],
  ["MDC_ECG_TIME_PD_QRS", "qrsDurationMs", MILLISECONDS_PER],
  ["MDC_ECG_TIME_PD_QT", "qtIntervalMs", MILLISECONDS_PER],
  ["MDC_ECG_TIME_PD_QTc", "qtcIntervalMs", MILLISECONDS_PER],
  ["MDC_ECG_ANGLE_P_FRONT", "pAxisDeg", { deg: 1 }],
  ["MDC_ECG_ANGLE_QRS_FRONT", "qrsAxisDeg", { deg: 1 }],
  ["MDC_ECG_ANGLE_T_FRONT", "tAxisDeg", { deg: 1 }],
];

/**
 * Global measurements: annotations at the top of a set (those inside MDC_ECG_BEAT are per beat).
 * QTc variants (MDC_ECG_TIME_PD_QTc_BAZETT, …) count as QTc; the first value found wins.
 */
function measurementsFrom(sets: XmlElement[]): EcgMeasurements {
  const measurements: EcgMeasurements = {};
  for (const set of sets) {
    for (const annotation of annotationsIn(set)) {
      const code = codeOf(annotation) ?? "";
      const entry = MEASUREMENT_CODES.find(
        ([c]) => code === c || (c === "MDC_ECG_TIME_PD_QTc" && code.startsWith(`${c}_`)),
      );
      if (!entry || measurements[entry[1]] !== undefined) continue;
      const value = physicalQuantity(child(annotation, "value"), entry[2]);
      if (value !== undefined) measurements[entry[1]] = clean(value);
    }
  }
  return measurements;
}

/**
 * Interpretation statements: MDC_ECG_INTERPRETATION containers and their STATEMENT / SUMMARY /
 * COMMENT annotations (text, or a coded value's display name), and top-level rhythm calls
 * (MDC_ECG_RHY: "Sinus Rhythm"), in document order, each once.
 */
function statementsFrom(sets: XmlElement[]): string[] {
  const statements: string[] = [];
  const add = (text: string | undefined) => {
    const trimmed = text?.trim();
    if (trimmed && !statements.includes(trimmed)) statements.push(trimmed);
  };
  const visit = (annotation: XmlElement) => {
    const code = codeOf(annotation) ?? "";
    if (code === "MDC_ECG_INTERPRETATION") {
      add(valueText(annotation));
      for (const inner of annotationsIn(annotation)) visit(inner);
    } else if (code.startsWith("MDC_ECG_INTERPRETATION_") || code === "MDC_ECG_RHY") {
      add(valueText(annotation));
    }
  };
  for (const set of sets) for (const annotation of annotationsIn(set)) visit(annotation);
  return statements;
}

/** ST value → its text; CE/CD value → displayName (else the code). */
function valueText(annotation: XmlElement): string | undefined {
  const value = child(annotation, "value");
  if (!value) return undefined;
  if (value.text) return value.text;
  return value.attributes.displayName ?? value.attributes.code;
}
