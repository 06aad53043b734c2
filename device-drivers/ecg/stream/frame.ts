/**
 * One frame of the stream, as bytes (PROTOCOL.md):
 *
 *   sync (settings.sync) | counter (u8 / u16 LE) | status (u8) | samples | checksum (u8 / u16 LE)
 *
 * samples = samplesPerFrame instants, each carrying one signed little-endian value of
 * `sampleBytes` bytes per lead in `settings.leads` order. The checksum covers counter, status and
 * samples (not the sync, which is constant).
 */
import { DxgateError } from "../../../common/errors.ts";
import { computeChecksum } from "./checksum.ts";
import {
  checksumLength,
  counterRange,
  frameLength,
  type StreamProtocolSettings,
  sampleLimits,
} from "./settings.ts";

/** Status byte bits. Lead-off bits name the electrode the module reports detached. */
export const STATUS_BITS = {
  RA: 0x01,
  LA: 0x02,
  LL: 0x04,
  /** Right leg (driven reference) electrode. */
  RL: 0x08,
  /** Any chest electrode (V1–V6). */
  CHEST: 0x10,
  /** A pacemaker pulse was detected during this frame. */
  PACE: 0x80,
} as const;

export const LEAD_OFF_BITS = ["RA", "LA", "LL", "RL", "CHEST"] as const;

export interface StreamFrame {
  counter: number;
  status: number;
  /** samplesPerFrame × leadCount values, instant by instant (all leads of instant 0, then instant 1, …). */
  samples: Int32Array;
}

export function encodeFrame(settings: StreamProtocolSettings, frame: StreamFrame): Uint8Array {
  const leadCount = settings.leads.length;
  const valueCount = settings.samplesPerFrame * leadCount;
  if (frame.samples.length !== valueCount) {
    throw new DxgateError(
      "ECG_STREAM_FRAME_SIZE",
      `a frame carries ${settings.samplesPerFrame} instants × ${leadCount} leads = ${valueCount} values, got ${frame.samples.length}`,
    );
  }
  const bytes = new Uint8Array(frameLength(settings));
  const view = new DataView(bytes.buffer);
  bytes.set(settings.sync, 0);
  let at = settings.sync.length;
  const counter = frame.counter % counterRange(settings);
  if (settings.counterBytes === 1) view.setUint8(at, counter);
  else view.setUint16(at, counter, true);
  at += settings.counterBytes;
  view.setUint8(at, frame.status & 0xff);
  at += 1;
  const { min, max } = sampleLimits(settings);
  for (const value of frame.samples) {
    if (value < min || value > max) {
      throw new DxgateError(
        "ECG_STREAM_SAMPLE_RANGE",
        `sample ${value} does not fit ${settings.sampleBytes} bytes (${min}…${max})`,
      );
    }
    if (settings.sampleBytes === 2) view.setInt16(at, value, true);
    else {
      view.setUint16(at, value & 0xffff, true);
      view.setInt8(at + 2, value >> 16);
    }
    at += settings.sampleBytes;
  }
  const checksum = computeChecksum(settings.checksum, bytes.subarray(settings.sync.length, at));
  if (checksumLength(settings.checksum) === 1) view.setUint8(at, checksum);
  else view.setUint16(at, checksum, true);
  return bytes;
}

/**
 * Reads the frame starting at `offset` (where a sync was found; `frameLength` bytes must be
 * there). Returns undefined when its checksum does not match.
 */
export function readFrameAt(
  settings: StreamProtocolSettings,
  bytes: Uint8Array,
  offset: number,
): StreamFrame | undefined {
  const length = frameLength(settings);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, length);
  const bodyStart = settings.sync.length;
  const checksumAt = length - checksumLength(settings.checksum);
  const stored =
    checksumLength(settings.checksum) === 1 ? view.getUint8(checksumAt) : view.getUint16(checksumAt, true);
  const body = bytes.subarray(offset + bodyStart, offset + checksumAt);
  if (computeChecksum(settings.checksum, body) !== stored) return undefined;
  let at = bodyStart;
  const counter = settings.counterBytes === 1 ? view.getUint8(at) : view.getUint16(at, true);
  at += settings.counterBytes;
  const status = view.getUint8(at);
  at += 1;
  const samples = new Int32Array(settings.samplesPerFrame * settings.leads.length);
  for (let k = 0; k < samples.length; k++) {
    samples[k] =
      settings.sampleBytes === 2
        ? view.getInt16(at, true)
        : view.getUint16(at, true) | (view.getInt8(at + 2) << 16);
    at += settings.sampleBytes;
  }
  return { counter, status, samples };
}
