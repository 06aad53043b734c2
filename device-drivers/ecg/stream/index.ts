/**
 * Protocol "ecg-stream": the fixed-frame sample stream of ECG acquisition modules (PROTOCOL.md).
 * Decoder for the serial framework, encoder and waveform conversion for the simulator, and the
 * synthetic ECG generator tests use.
 */
export { crc16Ccitt } from "./checksum.ts";
export { LEAD_OFF_BITS, STATUS_BITS, type StreamFrame } from "./frame.ts";
export {
  frameLength,
  resolveStreamSettings,
  STREAM_SETTINGS_DEFAULTS,
  STREAM_SETTINGS_SCHEMA,
  type StreamChecksum,
  type StreamGapFill,
  type StreamProtocolSettings,
  StreamSettingsError,
} from "./settings.ts";
export { createStreamLineDecoder, type StreamDecoderOptions } from "./stream-decoder.ts";
export { type EncodeStreamOptions, encodeStreamFrames, StreamFrameEncoder } from "./stream-encoder.ts";
export { generateSyntheticEcg, type SyntheticEcgOptions } from "./synthetic-ecg.ts";
export { loopedSlice, type StreamWaveform, waveformForStream } from "./waveform-for-stream.ts";
