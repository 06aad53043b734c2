/**
 * The one shape every ECG takes inside the box, whatever it arrived as (SCP-ECG over a serial line
 * or from a file, an acquisition module's frame stream, HL7 aECG / Philips / GE MUSE XML, a DICOM
 * waveform). Decoders produce it; the DICOM ECG writer, the renderer and the simulator consume it.
 * It holds no transport detail and no file paths.
 *
 * Samples stay integers in the device's own units, with the unit size given per lead in nanovolts,
 * so nothing is rescaled (and nothing lost) between the decoder and the DICOM writer.
 */

/** The standard 12 leads, in the order a 12-lead sheet and the DICOM writer use. */
export const STANDARD_12_LEADS = [
  "I",
  "II",
  "III",
  "aVR",
  "aVL",
  "aVF",
  "V1",
  "V2",
  "V3",
  "V4",
  "V5",
  "V6",
] as const;

/** The 8 leads many carts and modules actually measure; III, aVR, aVL and aVF follow from I and II. */
export const INDEPENDENT_8_LEADS = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"] as const;

/**
 * A lead's name. The standard ones use the spelling above exactly ("aVR", not "AVR"); decoders
 * normalise vendor spellings. Other leads (V7, V3R, X, Y, Z, …) keep their usual names.
 */
export type LeadName = (typeof STANDARD_12_LEADS)[number] | (string & {});

export interface EcgLead {
  name: LeadName;
  /** Sample values in device units; physical value = sample × nanovoltsPerUnit nV. */
  samples: Int32Array;
  /** Size of one unit in nanovolts (SCP-ECG's AVM; e.g. 2500 = 2.5 µV per unit). */
  nanovoltsPerUnit: number;
  /** True when computed by the box (e.g. III = II − I), not measured by the device. */
  derived?: boolean;
}

/** A set of simultaneously sampled leads (every lead has the same sample count). */
export interface EcgWaveform {
  samplingFrequencyHz: number;
  leads: EcgLead[];
}

/** A stretch of the rhythm the device did not deliver (lost frames); the samples there are filled. */
export interface EcgGap {
  /** Index of the first missing sample in each lead. */
  startSample: number;
  sampleCount: number;
}

/** Global measurements (SCP-ECG section 7, XML "measurements"); absent when the device gave none. */
export interface EcgMeasurements {
  heartRateBpm?: number;
  rrIntervalMs?: number;
  prIntervalMs?: number;
  qrsDurationMs?: number;
  qtIntervalMs?: number;
  qtcIntervalMs?: number;
  pAxisDeg?: number;
  qrsAxisDeg?: number;
  tAxisDeg?: number;
}

/**
 * Where a record came from. "wfdb" (PhysioNet files) and "synthetic" (the built-in generator) only
 * feed the simulator and tests: no cart sends them, but the record still says what it is.
 */
export type EcgSourceFormat =
  | "scp-ecg"
  | "ecg-stream"
  | "hl7-aecg"
  | "philips-xml"
  | "ge-muse-xml"
  | "dicom"
  | "wfdb"
  | "synthetic";

export interface EcgRecord {
  source: {
    format: EcgSourceFormat;
    /** Format version as the source states it (e.g. SCP-ECG "2.0", Philips "1.04.01"). */
    version?: string;
  };
  /** Patient as the device recorded it; every field optional (carts often send only an ID). */
  patient: {
    id?: string;
    /** DICOM PN form: `Family^Given` (Chinese names usually whole in the family component). */
    name?: string;
    sex?: "M" | "F" | "O";
    /** DICOM DA, YYYYMMDD. */
    birthDate?: string;
    /** DICOM AS, e.g. "045Y". */
    age?: string;
    heightCm?: number;
    weightKg?: number;
  };
  acquisition: {
    /** Local date and time of acquisition as the device states it: DICOM DA (YYYYMMDD) and TM (HHMMSS). */
    date?: string;
    time?: string;
    manufacturer?: string;
    model?: string;
    deviceSerialNumber?: string;
    softwareVersion?: string;
    institution?: string;
    department?: string;
    /** Technician / acquiring operator as the device gives it. */
    operator?: string;
    referringPhysician?: string;
    /** Accession or order number when the cart carries one (links to a box registration). */
    accessionNumber?: string;
    /** Mains filter, low/high-pass as stated by the device, in Hz. */
    lowPassHz?: number;
    highPassHz?: number;
    notchHz?: number;
  };
  /** The rhythm strip (usually 10 s): every lead the device recorded, plus any the box derived. */
  rhythm: EcgWaveform;
  /** Representative (median / reference) beats, when the source has them. */
  medianBeats?: EcgWaveform;
  measurements?: EcgMeasurements;
  /** Interpretive statements from the device, in order (SCP-ECG section 8/11, XML interpretation). */
  statements?: string[];
  /** Stretches of the rhythm lost in transit (stream protocol sequence gaps). */
  gaps?: EcgGap[];
  /** Things a reader of this record should know (derived leads, truncated record, …); no patient data. */
  notes?: string[];
}

/** Duration of a waveform in seconds (0 for an empty one). */
export function waveformSeconds(waveform: EcgWaveform): number {
  const first = waveform.leads[0];
  return first ? first.samples.length / waveform.samplingFrequencyHz : 0;
}
