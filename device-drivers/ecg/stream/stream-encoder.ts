/**
 * The device side of the stream: frames from a waveform, as an acquisition module sends them. Used
 * by the simulator and by tests; the waveform must already be in the stream's rate and unit
 * (`waveformForStream` converts one).
 */
import { DxgateError } from "../../../common/errors.ts";
import type { EcgWaveform } from "../ecg-record.ts";
import { encodeFrame } from "./frame.ts";
import { counterRange, frameLength, resolveStreamSettings, type StreamProtocolSettings } from "./settings.ts";

export class StreamFrameEncoder {
  readonly settings: StreamProtocolSettings;
  readonly frameLength: number;
  #counter: number;

  constructor(settings: Partial<StreamProtocolSettings> = {}, firstCounter = 0) {
    this.settings = resolveStreamSettings(settings);
    this.frameLength = frameLength(this.settings);
    this.#counter = firstCounter % counterRange(this.settings);
  }

  /** The counter the next frame will carry. */
  get nextCounter(): number {
    return this.#counter;
  }

  /** One frame of samplesPerFrame instants × leads, instant by instant; the counter advances. */
  encode(samples: Int32Array, status = 0): Uint8Array {
    const bytes = encodeFrame(this.settings, { counter: this.#counter, status, samples });
    this.skip(1);
    return bytes;
  }

  /** Advances the counter as if `frames` frames had been sent (and lost on the way). */
  skip(frames: number): void {
    this.#counter = (this.#counter + frames) % counterRange(this.settings);
  }
}

export interface EncodeStreamOptions {
  firstCounter?: number;
  /** Status byte of each frame (lead-off bits, pace flag); 0 when absent. */
  status?: (frameIndex: number) => number;
}

/**
 * The frames carrying `waveform` (whose rate and unit size must match the settings, and which must
 * hold every lead the settings name). Samples at the end that do not fill a whole frame are not
 * sent: a module only ever sends whole frames.
 */
export function encodeStreamFrames(
  waveform: EcgWaveform,
  settings: Partial<StreamProtocolSettings> = {},
  options: EncodeStreamOptions = {},
): Uint8Array[] {
  const encoder = new StreamFrameEncoder(settings, options.firstCounter ?? 0);
  const columns = streamColumns(waveform, encoder.settings);
  const { samplesPerFrame, leads } = encoder.settings;
  const length = columns[0]?.length ?? 0;
  const frames: Uint8Array[] = [];
  const values = new Int32Array(samplesPerFrame * leads.length);
  for (let start = 0; start + samplesPerFrame <= length; start += samplesPerFrame) {
    fillFrameValues(values, columns, start, samplesPerFrame);
    frames.push(encoder.encode(values, options.status?.(frames.length) ?? 0));
  }
  return frames;
}

/** The sample arrays of the settings' leads, in the settings' order, after checking rate and unit. */
export function streamColumns(waveform: EcgWaveform, settings: StreamProtocolSettings): Int32Array[] {
  if (waveform.samplingFrequencyHz !== settings.samplingFrequencyHz) {
    throw new DxgateError(
      "ECG_STREAM_WAVEFORM_MISMATCH",
      `the waveform is sampled at ${waveform.samplingFrequencyHz} Hz, the stream at ${settings.samplingFrequencyHz} Hz (convert it with waveformForStream)`,
    );
  }
  const missing = settings.leads.filter((name) => !waveform.leads.some((lead) => lead.name === name));
  if (missing.length > 0) {
    throw new DxgateError(
      "ECG_STREAM_WAVEFORM_MISMATCH",
      `the waveform lacks lead(s) ${missing.join(", ")} that the stream carries`,
    );
  }
  return settings.leads.map((name) => {
    const lead = waveform.leads.find((candidate) => candidate.name === name)!;
    if (lead.nanovoltsPerUnit !== settings.nanovoltsPerUnit) {
      throw new DxgateError(
        "ECG_STREAM_WAVEFORM_MISMATCH",
        `lead ${name} has ${lead.nanovoltsPerUnit} nV per unit, the stream ${settings.nanovoltsPerUnit} (convert it with waveformForStream)`,
      );
    }
    return lead.samples;
  });
}

/** Copies `count` instants from `columns` starting at sample `start` into `values`, instant by instant. */
export function fillFrameValues(
  values: Int32Array,
  columns: Int32Array[],
  start: number,
  count: number,
): void {
  const leadCount = columns.length;
  for (let instant = 0; instant < count; instant++) {
    for (let lead = 0; lead < leadCount; lead++) {
      values[instant * leadCount + lead] = columns[lead]?.[start + instant] ?? 0;
    }
  }
}
