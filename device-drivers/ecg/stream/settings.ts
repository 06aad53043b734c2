/**
 * The settings of the acquisition-module frame stream (spec: PROTOCOL.md beside this file). The
 * frame does not describe itself, so everything needed to read it — lead names and order, sample
 * width, samples per frame, rate, unit size, counter width, checksum — comes from the device
 * profile's `protocolSettings`, validated by the schema below (ajv, with defaults).
 */
import { Ajv, type ErrorObject } from "ajv";
import { DxgateError } from "../../../common/errors.ts";
import { INDEPENDENT_8_LEADS, type LeadName } from "../ecg-record.ts";
import { normaliseLeadName } from "../wfdb/lead-names.ts";

export type StreamChecksum = "crc16-ccitt" | "sum16" | "sum8";
export type StreamGapFill = "linear" | "hold";

export interface StreamProtocolSettings {
  /** Leads in the order each sample instant carries them; their count is the frame's lead count. */
  leads: LeadName[];
  /** Bytes per sample: 2 or 3, signed little endian. */
  sampleBytes: 2 | 3;
  /** Sample instants per frame. */
  samplesPerFrame: number;
  samplingFrequencyHz: number;
  /** Size of one sample unit in nanovolts (e.g. 1000 = 1 µV per unit). */
  nanovoltsPerUnit: number;
  /** Bytes of the sequence counter: 1 (wraps at 256) or 2 (little endian, wraps at 65536). */
  counterBytes: 1 | 2;
  checksum: StreamChecksum;
  /** The bytes every frame starts with. */
  sync: number[];
  /** Length of an assembled record, in seconds. */
  recordSeconds: number;
  /** Longest run of lost frames that is filled; a longer one (or a backwards counter) starts a new record. */
  maxGapSeconds: number;
  /** A record cut short (line closed, counter jump) is kept only when it holds at least this much. */
  minRecordSeconds: number;
  /** How lost samples are filled: a straight line between the neighbouring samples, or the last value held. */
  gapFill: StreamGapFill;
  /** Add III, aVR, aVL, aVF (computed from I and II) when the device does not send them. */
  deriveLimbLeads: boolean;
}

export const STREAM_SETTINGS_DEFAULTS: Readonly<StreamProtocolSettings> = Object.freeze({
  leads: [...INDEPENDENT_8_LEADS],
  sampleBytes: 2,
  samplesPerFrame: 5,
  samplingFrequencyHz: 500,
  nanovoltsPerUnit: 1000,
  counterBytes: 1,
  checksum: "crc16-ccitt",
  sync: [0xa5, 0x5a],
  recordSeconds: 10,
  maxGapSeconds: 1,
  minRecordSeconds: 2,
  gapFill: "linear",
  deriveLimbLeads: true,
});

/**
 * JSON schema of a profile's `protocolSettings` for protocol "ecg-stream". Every field has its
 * default, so ajv with `useDefaults` completes a partial object; cross-field rules (counter range
 * against the gap limit, …) are checked by `resolveStreamSettings`.
 */
export const STREAM_SETTINGS_SCHEMA = {
  type: "object",
  additionalProperties: false,
  properties: {
    leads: {
      type: "array",
      items: { type: "string", minLength: 1, maxLength: 16 },
      minItems: 1,
      maxItems: 16,
      uniqueItems: true,
      default: [...STREAM_SETTINGS_DEFAULTS.leads],
      description: "lead names in the order each sample instant carries them",
    },
    sampleBytes: { type: "integer", enum: [2, 3], default: STREAM_SETTINGS_DEFAULTS.sampleBytes },
    samplesPerFrame: {
      type: "integer",
      minimum: 1,
      maximum: 100,
      default: STREAM_SETTINGS_DEFAULTS.samplesPerFrame,
    },
    samplingFrequencyHz: {
      type: "number",
      minimum: 50,
      maximum: 20000,
      default: STREAM_SETTINGS_DEFAULTS.samplingFrequencyHz,
    },
    nanovoltsPerUnit: {
      type: "number",
      exclusiveMinimum: 0,
      maximum: 1000000,
      default: STREAM_SETTINGS_DEFAULTS.nanovoltsPerUnit,
    },
    counterBytes: { type: "integer", enum: [1, 2], default: STREAM_SETTINGS_DEFAULTS.counterBytes },
    checksum: {
      type: "string",
      enum: ["crc16-ccitt", "sum16", "sum8"],
      default: STREAM_SETTINGS_DEFAULTS.checksum,
    },
    sync: {
      type: "array",
      items: { type: "integer", minimum: 0, maximum: 255 },
      minItems: 1,
      maxItems: 4,
      default: [...STREAM_SETTINGS_DEFAULTS.sync],
    },
    recordSeconds: {
      type: "number",
      minimum: 1,
      maximum: 300,
      default: STREAM_SETTINGS_DEFAULTS.recordSeconds,
    },
    maxGapSeconds: {
      type: "number",
      minimum: 0,
      maximum: 60,
      default: STREAM_SETTINGS_DEFAULTS.maxGapSeconds,
    },
    minRecordSeconds: {
      type: "number",
      minimum: 0,
      maximum: 300,
      default: STREAM_SETTINGS_DEFAULTS.minRecordSeconds,
    },
    gapFill: { type: "string", enum: ["linear", "hold"], default: STREAM_SETTINGS_DEFAULTS.gapFill },
    deriveLimbLeads: { type: "boolean", default: STREAM_SETTINGS_DEFAULTS.deriveLimbLeads },
  },
} as const;

/** Settings the frame stream cannot work with; `details.field` names the offending setting. */
export class StreamSettingsError extends DxgateError {
  constructor(field: string, message: string) {
    super("ECG_STREAM_SETTINGS_INVALID", `ecg-stream protocolSettings.${field}: ${message}`, 400, { field });
    this.name = "StreamSettingsError";
  }
}

const validate = new Ajv({ allErrors: false, useDefaults: true, strict: true }).compile(
  STREAM_SETTINGS_SCHEMA,
);

function fieldOf(error: ErrorObject): string {
  const path = error.instancePath.replace(/^\//, "").replaceAll("/", ".");
  if (error.keyword === "additionalProperties") {
    return String((error.params as { additionalProperty?: string }).additionalProperty ?? path);
  }
  return path || "(root)";
}

/**
 * Validates settings (a profile's `protocolSettings`, possibly partial), fills the defaults and
 * normalises lead spelling ("avr" → "aVR"); throws StreamSettingsError naming the bad field.
 */
export function resolveStreamSettings(input: unknown = {}): StreamProtocolSettings {
  const candidate = structuredClone(input ?? {});
  if (!validate(candidate)) {
    const error = validate.errors?.[0];
    throw new StreamSettingsError(error ? fieldOf(error) : "(root)", error?.message ?? "invalid");
  }
  const settings = candidate as unknown as StreamProtocolSettings;
  settings.leads = settings.leads.map(normaliseLeadName);
  if (new Set(settings.leads).size !== settings.leads.length) {
    throw new StreamSettingsError("leads", `a lead appears twice (${settings.leads.join(", ")})`);
  }
  if (settings.minRecordSeconds > settings.recordSeconds) {
    throw new StreamSettingsError(
      "minRecordSeconds",
      `${settings.minRecordSeconds} s is longer than recordSeconds (${settings.recordSeconds} s)`,
    );
  }
  const recordSamples = settings.recordSeconds * settings.samplingFrequencyHz;
  if (Math.abs(recordSamples - Math.round(recordSamples)) > 1e-6) {
    throw new StreamSettingsError(
      "recordSeconds",
      `${settings.recordSeconds} s at ${settings.samplingFrequencyHz} Hz is not a whole number of samples`,
    );
  }
  // The counter tells a gap of n frames from one of n + range frames only while gaps stay well
  // inside its range; half the range keeps a counter that went backwards recognisable too.
  const gapFrames = maxGapFrames(settings);
  const trusted = counterRange(settings) / 2;
  if (gapFrames > trusted) {
    throw new StreamSettingsError(
      "maxGapSeconds",
      `${settings.maxGapSeconds} s is ${gapFrames} frames, but a ${settings.counterBytes}-byte counter tells gaps ` +
        `only up to ${trusted} frames: use counterBytes 2 or a smaller maxGapSeconds`,
    );
  }
  return settings;
}

/** Samples per lead in a whole record. */
export function recordSamples(settings: StreamProtocolSettings): number {
  return Math.round(settings.recordSeconds * settings.samplingFrequencyHz);
}

/** Bytes of one frame: sync, counter, status, samples, checksum. */
export function frameLength(settings: StreamProtocolSettings): number {
  return (
    settings.sync.length +
    settings.counterBytes +
    1 +
    settings.samplesPerFrame * settings.leads.length * settings.sampleBytes +
    checksumLength(settings.checksum)
  );
}

export function checksumLength(kind: StreamChecksum): number {
  return kind === "sum8" ? 1 : 2;
}

export function counterRange(settings: StreamProtocolSettings): number {
  return settings.counterBytes === 1 ? 0x100 : 0x10000;
}

/** The longest run of lost frames that is filled rather than starting a new record. */
export function maxGapFrames(settings: StreamProtocolSettings): number {
  return Math.floor((settings.maxGapSeconds * settings.samplingFrequencyHz) / settings.samplesPerFrame);
}

/** The range one sample can hold. */
export function sampleLimits(settings: StreamProtocolSettings): { min: number; max: number } {
  const bits = settings.sampleBytes * 8;
  return { min: -(2 ** (bits - 1)), max: 2 ** (bits - 1) - 1 };
}
