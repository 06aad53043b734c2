/** Helpers for the stream tests: frames of a known waveform, and a decoder run collecting events. */
import type { EcgRecord, EcgWaveform } from "../ecg-record.ts";
import type { LineDecoder, LineEvent } from "../line-decoder.ts";
import { resolveStreamSettings, type StreamProtocolSettings } from "./settings.ts";
import { encodeStreamFrames } from "./stream-encoder.ts";
import { generateSyntheticEcg } from "./synthetic-ecg.ts";
import { waveformForStream } from "./waveform-for-stream.ts";

export interface StreamFixture {
  settings: StreamProtocolSettings;
  /** The waveform the frames carry, in the stream's leads, rate and unit. */
  waveform: EcgWaveform;
  frames: Uint8Array[];
}

/** `seconds` of synthetic ECG framed with `settings` (defaults otherwise). */
export function streamFixture(
  seconds: number,
  settings: Partial<StreamProtocolSettings> = {},
  firstCounter = 0,
): StreamFixture {
  const resolved = resolveStreamSettings(settings);
  const source = generateSyntheticEcg({
    seconds,
    samplingFrequencyHz: resolved.samplingFrequencyHz,
    nanovoltsPerUnit: resolved.nanovoltsPerUnit,
    noiseMicrovolts: 8,
  });
  const { waveform } = waveformForStream(source.rhythm, resolved);
  return { settings: resolved, waveform, frames: encodeStreamFrames(waveform, resolved, { firstCounter }) };
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Pushes each chunk, then (unless told not to) ends the line; returns every event in order. */
export function run(decoder: LineDecoder, chunks: readonly Uint8Array[], end = true): LineEvent[] {
  const events: LineEvent[] = [];
  for (const chunk of chunks) events.push(...decoder.push(chunk));
  if (end) events.push(...decoder.end());
  return events;
}

export function recordsOf(events: readonly LineEvent[]): EcgRecord[] {
  return events.flatMap((event) => (event.kind === "record" ? [event.record] : []));
}

export function discardsOf(events: readonly LineEvent[]): Extract<LineEvent, { kind: "discarded" }>[] {
  return events.flatMap((event) => (event.kind === "discarded" ? [event] : []));
}

/** Samples of lead `name`, as a plain array (for deepEqual). */
export function leadValues(waveform: EcgWaveform, name: string, start = 0, end?: number): number[] {
  const lead = waveform.leads.find((candidate) => candidate.name === name);
  if (!lead) throw new Error(`no lead ${name}`);
  return [...lead.samples.subarray(start, end)];
}

/** Deterministic bytes (xorshift), for garbage between frames. */
export function pseudoRandomBytes(count: number, seed: number): Uint8Array {
  let state = seed >>> 0 || 1;
  const out = new Uint8Array(count);
  for (let k = 0; k < count; k++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[k] = state & 0xff;
  }
  return out;
}
