/**
 * One lead's sample data in sections 5 and 6: Huffman-coded (section 2) or plain 16-bit little
 * endian, holding the samples themselves or their first or second differences
 * (x[n] = d[n] + x[n-1], or x[n] = d[n] + 2·x[n-1] − x[n-2]; the first one or two values are
 * samples). Arithmetic is 32-bit, so no value wraps on the way back.
 */
import { SCP_ERROR_CODES, ScpEcgError } from "./errors.ts";
import { DEFAULT_HUFFMAN_TABLE, decodeHuffman, encodeDefaultHuffman, type HuffmanCoding } from "./huffman.ts";

export type DifferenceOrder = 0 | 1 | 2;

export function differenceOrder(value: number, context: string): DifferenceOrder {
  if (value === 0 || value === 1 || value === 2) return value;
  throw new ScpEcgError(
    SCP_ERROR_CODES.unsupported,
    `${context}: difference encoding ${value} is not 0, 1 or 2`,
  );
}

/** Decodes up to `count` samples; fewer when the lead's bytes end first. */
export function decodeLeadData(
  data: Uint8Array,
  coding: HuffmanCoding,
  order: DifferenceOrder,
  count: number,
): Int32Array {
  let values: Int32Array;
  if (coding.kind === "none") {
    const available = Math.min(count, Math.floor(data.length / 2));
    values = new Int32Array(available);
    for (let index = 0; index < available; index++) {
      const raw = (data[2 * index] ?? 0) | ((data[2 * index + 1] ?? 0) << 8);
      values[index] = raw >= 0x8000 ? raw - 0x10000 : raw;
    }
  } else {
    // Every code is at least one bit long: more values than bits cannot be in there.
    const bounded = Math.min(count, data.length * 8);
    values = decodeHuffman(
      data,
      coding.kind === "default" ? [DEFAULT_HUFFMAN_TABLE] : coding.tables,
      bounded,
    );
  }
  undoDifferences(values, order);
  return values;
}

/** Turns differences back into samples, in place. */
export function undoDifferences(values: Int32Array, order: DifferenceOrder): void {
  if (order === 1) {
    for (let index = 1; index < values.length; index++)
      values[index] = (values[index] ?? 0) + (values[index - 1] ?? 0);
  } else if (order === 2) {
    for (let index = 2; index < values.length; index++) {
      values[index] = (values[index] ?? 0) + 2 * (values[index - 1] ?? 0) - (values[index - 2] ?? 0);
    }
  }
}

/** The values an encoder stores for `samples` under a difference order. */
export function takeDifferences(samples: ArrayLike<number>, order: DifferenceOrder): Int32Array {
  const values = new Int32Array(samples.length);
  for (let index = 0; index < samples.length; index++) {
    const sample = samples[index] ?? 0;
    if (order === 0 || index < order) values[index] = sample;
    else if (order === 1) values[index] = sample - (samples[index - 1] ?? 0);
    else values[index] = sample - 2 * (samples[index - 1] ?? 0) + (samples[index - 2] ?? 0);
  }
  return values;
}

export type LeadCompression = "huffman" | "none";

/** Encodes one lead (default Huffman table, or 16-bit little endian), padded to an even length. */
export function encodeLeadData(
  samples: ArrayLike<number>,
  compression: LeadCompression,
  order: DifferenceOrder,
): Uint8Array {
  const values = takeDifferences(samples, order);
  let bytes: Uint8Array;
  if (compression === "huffman") {
    bytes = encodeDefaultHuffman(values);
  } else {
    bytes = new Uint8Array(values.length * 2);
    for (let index = 0; index < values.length; index++) {
      const value = values[index] ?? 0;
      if (value < -32768 || value > 32767) {
        throw new ScpEcgError(
          SCP_ERROR_CODES.cannotEncode,
          `value ${value} does not fit 16-bit uncompressed data`,
        );
      }
      bytes[2 * index] = value & 0xff;
      bytes[2 * index + 1] = (value >> 8) & 0xff;
    }
  }
  if (bytes.length % 2 === 0) return bytes;
  const padded = new Uint8Array(bytes.length + 1);
  padded.set(bytes);
  return padded;
}

/** Whether every value `order` would store fits 16 bits (what both codings can carry). */
export function fitsSixteenBits(samples: ArrayLike<number>, order: DifferenceOrder): boolean {
  const values = takeDifferences(samples, order);
  for (const value of values) if (value < -32768 || value > 32767) return false;
  return true;
}
