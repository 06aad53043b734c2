/**
 * What the simulator sends, in order, each piece with the moment (in ECG time) a device would send
 * it: stream frames every samplesPerFrame / rate seconds, or SCP-ECG records one record length apart.
 * Generated lazily, so `--repeat 0` can play forever.
 */
import type { EcgRecord } from "../../device-drivers/ecg/ecg-record.ts";
import { waveformSeconds } from "../../device-drivers/ecg/ecg-record.ts";
import {
  loopedSlice,
  StreamFrameEncoder,
  type StreamProtocolSettings,
  waveformForStream,
} from "../../device-drivers/ecg/stream/index.ts";

export interface PlayUnit {
  kind: "frame" | "record";
  /** 0-based position in the playlist. */
  index: number;
  bytes: Uint8Array;
  /** When a device would send it, in seconds of ECG from the start. */
  atSeconds: number;
}

export interface Playlist {
  units: Iterable<PlayUnit>;
  /** Units in total (Infinity when playing until stopped). */
  unitCount: number;
  /** Units per record (frames per record for the stream; 1 for SCP-ECG), for progress lines. */
  unitsPerRecord: number;
  /** Source samples clipped to the stream's sample width. */
  clippedSamples: number;
}

export interface PlayAmount {
  /** Whole source this many times (0 = forever). */
  repeat: number;
  /** Or this many records of settings.recordSeconds. */
  records: number | undefined;
}

export function streamPlaylist(
  source: EcgRecord,
  settings: StreamProtocolSettings,
  amount: PlayAmount,
): Playlist {
  const { waveform, clippedSamples } = waveformForStream(source.rhythm, settings);
  const sourceSamples = waveform.leads[0]?.samples.length ?? 0;
  const spf = settings.samplesPerFrame;
  const recordSamples = Math.round(settings.recordSeconds * settings.samplingFrequencyHz);
  const totalSamples =
    amount.records !== undefined
      ? amount.records * recordSamples
      : amount.repeat === 0
        ? Number.POSITIVE_INFINITY
        : amount.repeat * sourceSamples;
  const unitCount = Math.floor(totalSamples / spf);
  if (sourceSamples === 0 || unitCount === 0) {
    throw new RangeError(`the source holds ${sourceSamples} samples: not one frame of ${spf}`);
  }
  function* frames(): Generator<PlayUnit> {
    const encoder = new StreamFrameEncoder(settings);
    const columns = waveform.leads.map((lead) => lead.samples);
    const leadCount = columns.length;
    const values = new Int32Array(spf * leadCount);
    for (let index = 0; index < unitCount; index++) {
      for (let instant = 0; instant < spf; instant++) {
        // Past the end of the source, playing continues from its start.
        const at = (index * spf + instant) % sourceSamples;
        for (let lead = 0; lead < leadCount; lead++)
          values[instant * leadCount + lead] = columns[lead]?.[at] ?? 0;
      }
      yield {
        kind: "frame",
        index,
        bytes: encoder.encode(values),
        atSeconds: (index * spf) / settings.samplingFrequencyHz,
      };
    }
  }
  return { units: frames(), unitCount, unitsPerRecord: recordSamples / spf, clippedSamples };
}

export function scpPlaylist(
  source: EcgRecord,
  raw: Uint8Array | undefined,
  recordSeconds: number,
  amount: PlayAmount,
  encode: (record: EcgRecord) => Uint8Array,
): Playlist {
  const rate = source.rhythm.samplingFrequencyHz;
  const sourceSamples = source.rhythm.leads[0]?.samples.length ?? 0;
  const cutSamples = Math.round(recordSeconds * rate);
  // A cut equal to the whole source is the source itself (its own bytes, measurements, …).
  const whole = amount.records === undefined || cutSamples === sourceSamples;
  const unitCount = amount.records ?? (amount.repeat === 0 ? Number.POSITIVE_INFINITY : amount.repeat);
  const wholeBytes = whole ? (raw ?? encode(source)) : undefined;
  const seconds = whole ? waveformSeconds(source.rhythm) : recordSeconds;
  function* records(): Generator<PlayUnit> {
    for (let index = 0; index < unitCount; index++) {
      const bytes =
        wholeBytes ??
        encode({
          source: source.source,
          patient: source.patient,
          acquisition: source.acquisition,
          rhythm: loopedSlice(source.rhythm, (index * cutSamples) % sourceSamples, cutSamples),
        });
      yield { kind: "record", index, bytes, atSeconds: index * seconds };
    }
  }
  return { units: records(), unitCount, unitsPerRecord: 1, clippedSamples: 0 };
}
