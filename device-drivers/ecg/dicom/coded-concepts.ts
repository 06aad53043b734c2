/**
 * The coded concepts a DICOM ECG carries, in one place: a code as DICOM writes it (Code Sequence
 * Macro, PS3.3 Table 8.8-1), the ECG leads of CID 3001, the global measurements written as
 * waveform annotations, and the UCUM units of both.
 *
 * Leads: CID 3001 "ECG Leads" is coded in MDC (ISO/IEEE 11073-10101) as "2:N" (partition 2, code
 * N), which replaced the SCPECG scheme ("5.6.3-9-N") of older editions. N is the SCP-ECG lead
 * number in both, so the reader takes either (and the decimal MDC form 131072 + N some writers use).
 */

export interface CodedConcept {
  codeValue: string;
  codingSchemeDesignator: string;
  codeMeaning: string;
}

interface LeadCode {
  /** The lead's name in an EcgRecord (ecg-record.ts spelling). */
  name: string;
  /** CID 3001 code N of MDC "2:N" (the SCP-ECG lead number). */
  number: number;
  meaning: string;
  /** CID 3001 has its own terms for leads computed from others ("Derived Lead III"). */
  derived?: boolean;
}

/** CID 3001 terms for the leads carts and modules send; "Unspecified lead" covers the rest. */
const LEAD_CODES: readonly LeadCode[] = [
  { name: "I", number: 1, meaning: "Lead I" },
  { name: "II", number: 2, meaning: "Lead II" },
  { name: "V1", number: 3, meaning: "Lead V1" },
  { name: "V2", number: 4, meaning: "Lead V2" },
  { name: "V3", number: 5, meaning: "Lead V3" },
  { name: "V4", number: 6, meaning: "Lead V4" },
  { name: "V5", number: 7, meaning: "Lead V5" },
  { name: "V6", number: 8, meaning: "Lead V6" },
  { name: "V7", number: 9, meaning: "Lead V7" },
  { name: "V2R", number: 10, meaning: "Lead V2R" },
  { name: "V3R", number: 11, meaning: "Lead V3R" },
  { name: "V4R", number: 12, meaning: "Lead V4R" },
  { name: "V5R", number: 13, meaning: "Lead V5R" },
  { name: "V6R", number: 14, meaning: "Lead V6R" },
  { name: "V7R", number: 15, meaning: "Lead V7R" },
  { name: "X", number: 16, meaning: "Lead X" },
  { name: "Y", number: 17, meaning: "Lead Y" },
  { name: "Z", number: 18, meaning: "Lead Z" },
  { name: "III", number: 61, meaning: "Lead III" },
  { name: "aVR", number: 62, meaning: "aVR, augmented voltage, right" },
  { name: "aVL", number: 63, meaning: "aVL, augmented voltage, left" },
  { name: "aVF", number: 64, meaning: "aVF, augmented voltage, foot" },
  { name: "-aVR", number: 65, meaning: "aVR" },
  { name: "V8", number: 66, meaning: "Lead V8" },
  { name: "V9", number: 67, meaning: "Lead V9" },
  { name: "V8R", number: 68, meaning: "Lead V8R" },
  { name: "V9R", number: 69, meaning: "Lead V9R" },
  { name: "D", number: 70, meaning: "Lead D (Nehb - Dorsal)" },
  { name: "A", number: 71, meaning: "Lead A (Nehb - Anterior)" },
  { name: "J", number: 72, meaning: "Lead J (Nehb - Inferior)" },
  { name: "I", number: 31, meaning: "Derived Lead I", derived: true },
  { name: "II", number: 32, meaning: "Derived Lead II", derived: true },
  { name: "V1", number: 33, meaning: "Derived Lead V1", derived: true },
  { name: "V2", number: 34, meaning: "Derived Lead V2", derived: true },
  { name: "V3", number: 35, meaning: "Derived Lead V3", derived: true },
  { name: "V4", number: 36, meaning: "Derived Lead V4", derived: true },
  { name: "V5", number: 37, meaning: "Derived Lead V5", derived: true },
  { name: "V6", number: 38, meaning: "Derived Lead V6", derived: true },
  { name: "III", number: 111, meaning: "Derived Lead III", derived: true },
  { name: "aVR", number: 112, meaning: "Derived Lead aVR", derived: true },
  { name: "aVL", number: 113, meaning: "Derived Lead aVL", derived: true },
  { name: "aVF", number: 114, meaning: "Derived Lead aVF", derived: true },
];

const MDC = "MDC";
const UNSPECIFIED_LEAD: CodedConcept = {
  codeValue: "2:0",
  codingSchemeDesignator: MDC,
  codeMeaning: "Unspecified lead",
};

const MEASURED_BY_NAME = new Map(
  LEAD_CODES.filter((lead) => !lead.derived).map((lead) => [lead.name.toLowerCase(), lead]),
);
const BY_NUMBER = new Map(LEAD_CODES.map((lead) => [lead.number, lead]));

/**
 * The Channel Source code for a lead. A lead the box derived keeps the plain lead's code (III is
 * lead III to every viewer laying out a 12-lead sheet); the writer says it was derived in the
 * channel label and derivation description. Names outside CID 3001 get "Unspecified lead", their
 * name going in the channel label.
 */
export function leadSourceCode(name: string): { code: CodedConcept; known: boolean } {
  const lead = MEASURED_BY_NAME.get(name.toLowerCase());
  if (!lead) return { code: UNSPECIFIED_LEAD, known: false };
  return {
    code: { codeValue: `2:${lead.number}`, codingSchemeDesignator: MDC, codeMeaning: lead.meaning },
    known: true,
  };
}

/** The lead a Channel Source code names, whichever CID 3001 edition coded it; undefined when unknown. */
export function leadFromSourceCode(
  code: Partial<CodedConcept>,
): { name: string; derived: boolean } | undefined {
  const value = (code.codeValue ?? "").trim();
  const scheme = (code.codingSchemeDesignator ?? "").trim().toUpperCase();
  let number: number | undefined;
  if (scheme === "MDC") {
    const partitioned = /^2:(\d+)$/.exec(value);
    if (partitioned) number = Number(partitioned[1]);
    else if (/^\d+$/.test(value) && Number(value) >= 131072 && Number(value) < 131072 + 65536)
      number = Number(value) - 131072;
  } else if (scheme === "SCPECG") {
    const scp = /^5\.6\.3-9-(\d+)$/.exec(value);
    if (scp) number = Number(scp[1]);
  }
  const lead = number === undefined ? undefined : BY_NUMBER.get(number);
  return lead ? { name: lead.name, derived: lead.derived === true } : undefined;
}

/** The spelling an EcgRecord uses for a lead name found in a channel label ("AVR" → "aVR"). */
export function normaliseLeadName(label: string): string {
  const trimmed = label.trim();
  return MEASURED_BY_NAME.get(trimmed.toLowerCase())?.name ?? trimmed;
}

// ── units (UCUM, as CID 3082 "Waveform Units of Measurement" and CID 82 list them) ──────────

export const UNITS = {
  microvolt: { codeValue: "uV", codingSchemeDesignator: "UCUM", codeMeaning: "microvolt" },
  millisecond: { codeValue: "ms", codingSchemeDesignator: "UCUM", codeMeaning: "millisecond" },
  degree: { codeValue: "deg", codingSchemeDesignator: "UCUM", codeMeaning: "degree" },
  perMinute: { codeValue: "/min", codingSchemeDesignator: "UCUM", codeMeaning: "per minute" },
} as const satisfies Record<string, CodedConcept>;

/** Nanovolts in one unit of a UCUM voltage code; undefined for anything that is not a voltage. */
export function nanovoltsPerUcumUnit(code: string): number | undefined {
  const factors: Record<string, number> = { nV: 1, uV: 1e3, mV: 1e6, V: 1e9 };
  return factors[code.trim()];
}

// ── global measurements (MDC terms of the ECG global measurement context groups) ───────────

export type MeasurementKey =
  | "heartRateBpm"
  | "rrIntervalMs"
  | "prIntervalMs"
  | "qrsDurationMs"
  | "qtIntervalMs"
  | "qtcIntervalMs"
  | "pAxisDeg"
  | "qrsAxisDeg"
  | "tAxisDeg";

interface MeasurementConcept {
  key: MeasurementKey;
  name: CodedConcept;
  unit: CodedConcept;
  /** Other codes meaning the same, as other writers use them (older SCPECG-coded editions, LOINC). */
  aliases: ReadonlyArray<readonly [scheme: string, value: string]>;
}

const mdc = (codeValue: string, codeMeaning: string): CodedConcept => ({
  codeValue,
  codingSchemeDesignator: MDC,
  codeMeaning,
});

/** In EcgMeasurements order, which is the order the writer emits them. */
export const MEASUREMENT_CONCEPTS: readonly MeasurementConcept[] = [
  {
    key: "heartRateBpm",
    name: mdc("2:16016", "Ventricular Heart Rate"),
    unit: UNITS.perMinute,
    aliases: [
      ["MDC", "2:16770"],
      ["LN", "8867-4"],
    ],
  },
  {
    key: "rrIntervalMs",
    name: mdc("2:16168", "RR interval global"),
    unit: UNITS.millisecond,
    aliases: [
      ["MDC", "2:16000"],
      ["SCPECG", "5.10.2.1-3"],
    ],
  },
  {
    key: "prIntervalMs",
    name: mdc("2:15872", "PR time period, global"),
    unit: UNITS.millisecond,
    aliases: [["SCPECG", "5.13.5-7"]],
  },
  {
    key: "qrsDurationMs",
    name: mdc("2:16156", "QRS duration, global"),
    unit: UNITS.millisecond,
    aliases: [["SCPECG", "5.13.5-9"]],
  },
  {
    key: "qtIntervalMs",
    name: mdc("2:16160", "QT duration, global"),
    unit: UNITS.millisecond,
    aliases: [["SCPECG", "5.13.5-11"]],
  },
  {
    key: "qtcIntervalMs",
    name: mdc("2:15876", "QTc interval global"),
    unit: UNITS.millisecond,
    aliases: [["SCPECG", "5.10.2.5-5"]],
  },
  {
    key: "pAxisDeg",
    name: mdc("2:16128", "P Axis"),
    unit: UNITS.degree,
    aliases: [["SCPECG", "5.10.3-11"]],
  },
  {
    key: "qrsAxisDeg",
    name: mdc("2:16132", "QRS axis"),
    unit: UNITS.degree,
    aliases: [["SCPECG", "5.10.3-13"]],
  },
  {
    key: "tAxisDeg",
    name: mdc("2:16136", "T axis"),
    unit: UNITS.degree,
    aliases: [["SCPECG", "5.10.3-15"]],
  },
];

/** The measurement a Concept Name code stands for; undefined for codes we do not map. */
export function measurementFromCode(code: Partial<CodedConcept>): MeasurementKey | undefined {
  const value = (code.codeValue ?? "").trim();
  const scheme = (code.codingSchemeDesignator ?? "").trim().toUpperCase();
  for (const concept of MEASUREMENT_CONCEPTS) {
    if (concept.name.codeValue === value && concept.name.codingSchemeDesignator === scheme)
      return concept.key;
    if (concept.aliases.some(([aliasScheme, aliasValue]) => aliasScheme === scheme && aliasValue === value))
      return concept.key;
  }
  return undefined;
}
