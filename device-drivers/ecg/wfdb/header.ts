/**
 * The WFDB header (.hea) of a single-segment record, as PhysioNet's header(5) defines it:
 *
 *   record line:  name nsig [fs[/counterfreq[(base)]] [nsamp [basetime [basedate]]]]
 *   signal line:  file format[xsamp][:skew][+offset] [gain[(baseline)][/units] [adcres [adczero
 *                 [initval [checksum [blocksize [description…]]]]]]]
 *   comment:      # free text (PTB: "# age: 81", "# sex: female")
 */
import { DxgateError } from "../../../common/errors.ts";

export interface WfdbSignal {
  fileName: string;
  format: number;
  /** Samples of this signal per frame (multi-frequency records have more than 1). */
  samplesPerFrame: number;
  skew: number;
  /** Bytes to skip at the start of the signal file. */
  byteOffset: number;
  /** ADC units per physical unit (200 when the header gives none or 0). */
  gain: number;
  /** The sample value of physical zero. */
  baseline: number;
  units: string;
  /** Sum of all samples modulo 65536, when stated. */
  checksum: number | undefined;
  description: string;
}

export interface WfdbHeader {
  recordName: string;
  samplingFrequencyHz: number;
  /** Samples per signal; undefined when the header does not say (then the file size does). */
  sampleCount: number | undefined;
  /** "HH:MM:SS" (fractions dropped) and "DD/MM/YYYY" when stated. */
  baseTime: string | undefined;
  baseDate: string | undefined;
  signals: WfdbSignal[];
  /** Comment lines without their "#", in order. */
  comments: string[];
}

export class WfdbError extends DxgateError {
  constructor(code: string, message: string) {
    super(code, message, 422);
    this.name = "WfdbError";
  }
}

const DEFAULT_GAIN = 200;
const DEFAULT_FREQUENCY = 250;

export function parseWfdbHeader(text: string): WfdbHeader {
  const comments: string[] = [];
  const lines: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith("#")) comments.push(line.slice(1).trim());
    else if (line !== "") lines.push(line);
  }
  const recordLine = lines.shift();
  if (!recordLine) throw invalid("no record line");
  const [nameField = "", signalsField = "", frequencyField, countField, baseTime, baseDate] =
    recordLine.split(/\s+/);
  if (nameField.includes("/")) {
    throw new WfdbError(
      "WFDB_UNSUPPORTED",
      `record ${nameField} has several segments: only single-segment records are read`,
    );
  }
  const signalCount = integer(signalsField, "number of signals");
  const samplingFrequencyHz = frequencyField
    ? positive(frequencyField.split("/")[0] ?? "", "sampling frequency")
    : DEFAULT_FREQUENCY;
  const sampleCount = countField ? integer(countField, "number of samples") : undefined;
  if (lines.length < signalCount) {
    throw invalid(`the record line announces ${signalCount} signals, the header describes ${lines.length}`);
  }
  const signals = lines.slice(0, signalCount).map((line, index) => parseSignalLine(line, index));
  return {
    recordName: nameField,
    samplingFrequencyHz,
    sampleCount: sampleCount === 0 ? undefined : sampleCount,
    baseTime: baseTime?.replace(/\..*$/, ""),
    baseDate,
    signals,
    comments,
  };
}

function parseSignalLine(line: string, index: number): WfdbSignal {
  const fields = line.split(/\s+/);
  const [fileName = "", formatField = "", gainField, , adcZeroField, , checksumField] = fields;
  const format = /^(\d+)(?:x(\d+))?(?::(-?\d+))?(?:\+(\d+))?$/.exec(formatField);
  if (!format) throw invalid(`signal ${index}: cannot read format "${formatField}"`);
  const adcZero = adcZeroField ? integer(adcZeroField, `signal ${index} ADC zero`, true) : 0;
  let gain = DEFAULT_GAIN;
  let baseline = adcZero;
  let units = "mV";
  if (gainField) {
    const parts = /^([-+\d.eE]+)(?:\((-?\d+)\))?(?:\/(\S+))?$/.exec(gainField);
    if (!parts) throw invalid(`signal ${index}: cannot read gain "${gainField}"`);
    const value = Number(parts[1]);
    if (!Number.isFinite(value) || value < 0) throw invalid(`signal ${index}: gain "${gainField}"`);
    gain = value === 0 ? DEFAULT_GAIN : value;
    if (parts[2] !== undefined) baseline = Number(parts[2]);
    if (parts[3] !== undefined) units = parts[3];
  }
  return {
    fileName,
    format: Number(format[1]),
    samplesPerFrame: format[2] ? Number(format[2]) : 1,
    skew: format[3] ? Number(format[3]) : 0,
    byteOffset: format[4] ? Number(format[4]) : 0,
    gain,
    baseline,
    units,
    checksum: checksumField ? integer(checksumField, `signal ${index} checksum`, true) : undefined,
    description: fields.slice(8).join(" "),
  };
}

function invalid(message: string): WfdbError {
  return new WfdbError("WFDB_HEADER_INVALID", `WFDB header: ${message}`);
}

function integer(text: string, what: string, signed = false): number {
  const value = Number(text);
  if (!Number.isInteger(value) || (!signed && value < 0))
    throw invalid(`${what} "${text}" is not an integer`);
  return value;
}

function positive(text: string, what: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw invalid(`${what} "${text}" is not a positive number`);
  return value;
}
