/**
 * WFDB signal file formats (signal(5)): the samples of all signals of one file, frame by frame
 * (one sample of each signal in header order), decoded to integers.
 *
 *   16   16-bit two's complement, little endian       61   the same, big endian
 *   24   24-bit two's complement, little endian       32   32-bit two's complement, little endian
 *   80   8-bit offset binary (value − 128)            160  16-bit offset binary (value − 32768)
 *   212  pairs of 12-bit two's-complement samples in 3 bytes: byte 0 = low 8 bits of the first,
 *        byte 1 = high 4 bits of the first (low nibble) and of the second (high nibble), byte 2 =
 *        low 8 bits of the second.
 */
import { WfdbError } from "./header.ts";

export const SUPPORTED_FORMATS = [16, 61, 24, 32, 80, 160, 212] as const;

/** Bytes per sample, in bits (212 packs 1.5 bytes per sample). */
const BITS_PER_SAMPLE: Record<number, number> = { 16: 16, 61: 16, 24: 24, 32: 32, 80: 8, 160: 16, 212: 12 };

/** How many whole frames of `signalCount` samples the bytes hold. */
export function framesInFile(format: number, byteLength: number, signalCount: number): number {
  const bits = BITS_PER_SAMPLE[format];
  if (!bits) throw unsupported(format);
  return Math.floor((byteLength * 8) / bits / signalCount);
}

/**
 * Decodes `frameCount` frames of `signalCount` interleaved signals; returns one column per
 * signal.
 */
export function decodeSignalFile(
  format: number,
  bytes: Uint8Array,
  signalCount: number,
  frameCount: number,
): Int32Array[] {
  const total = signalCount * frameCount;
  const flat = new Int32Array(total);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (format) {
    case 16:
      for (let k = 0; k < total; k++) flat[k] = view.getInt16(2 * k, true);
      break;
    case 61:
      for (let k = 0; k < total; k++) flat[k] = view.getInt16(2 * k, false);
      break;
    case 24:
      for (let k = 0; k < total; k++) flat[k] = view.getUint16(3 * k, true) | (view.getInt8(3 * k + 2) << 16);
      break;
    case 32:
      for (let k = 0; k < total; k++) flat[k] = view.getInt32(4 * k, true);
      break;
    case 80:
      for (let k = 0; k < total; k++) flat[k] = view.getUint8(k) - 128;
      break;
    case 160:
      for (let k = 0; k < total; k++) flat[k] = view.getUint16(2 * k, true) - 32768;
      break;
    case 212:
      for (let k = 0; k < total; k++) {
        const group = 3 * (k >> 1);
        const middle = bytes[group + 1] ?? 0;
        const value =
          k % 2 === 0
            ? (bytes[group] ?? 0) | ((middle & 0x0f) << 8)
            : (bytes[group + 2] ?? 0) | ((middle & 0xf0) << 4);
        flat[k] = value & 0x800 ? value - 0x1000 : value;
      }
      break;
    default:
      throw unsupported(format);
  }
  const columns = Array.from({ length: signalCount }, () => new Int32Array(frameCount));
  for (let frame = 0; frame < frameCount; frame++) {
    for (let signal = 0; signal < signalCount; signal++) {
      (columns[signal] as Int32Array)[frame] = flat[frame * signalCount + signal] ?? 0;
    }
  }
  return columns;
}

function unsupported(format: number): WfdbError {
  return new WfdbError(
    "WFDB_FORMAT_UNSUPPORTED",
    `WFDB signal format ${format} is not supported (supported: ${SUPPORTED_FORMATS.join(", ")})`,
  );
}
