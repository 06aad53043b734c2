/**
 * Philips XLI waveform compression (SierraECG / PageWriter XML, `compressmethod="XLI"` in 1.03,
 * `compression="XLI"` in 1.04). Reverse-engineered by C. Watford's sierra-ecg-tools (MIT); this is
 * our own implementation of the format as that project documents it.
 *
 * The decoded base64 is one chunk per lead, back to back:
 *
 *   0      4      6      8
 *   | size | ?(1) | delta | size bytes of LZW data (10-bit codes, MSB first) … |
 *
 * LZW decompression gives 2·n bytes: the n high bytes of the 16-bit values first, then the n low
 * bytes (splitting the planes makes the mostly-zero high bytes compress well). The first two
 * values are samples; every later sample is predicted from the two before it and corrected by a
 * code stored one place earlier (offset 64), the header's delta being the first correction:
 *
 *   s[i] = 2·s[i−1] − s[i−2] − c[i],   c[2] = delta,   c[i] = value[i−1] − 64
 *
 * Leads III, aVR, aVL and aVF are then residuals against I and II (restorePhilipsLimbLeads).
 */
import { EcgXmlError } from "./errors.ts";

/** Philips uses 10-bit LZW codes: 256 literals, entries 256–1022, and 1023 as the end marker. */
export const XLI_CODE_BITS = 10;
const CHUNK_HEADER_BYTES = 8;
const CORRECTION_BIAS = 64;

export interface XliChunk {
  /** Sample values of one lead, as stored (III, aVR, aVL, aVF still residuals). */
  samples: Int32Array;
}

/**
 * Decodes the first `leadCount` chunks. `maxSamplesPerLead` bounds what one chunk may decompress
 * to (a hostile 2 KB chunk could otherwise expand to megabytes); Philips stores up to 16 chunks,
 * the ones past the valid leads are unused channels and are not decoded.
 */
export function decodeXli(bytes: Uint8Array, leadCount: number, maxSamplesPerLead: number): Int32Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const leads: Int32Array[] = [];
  let at = 0;
  while (leads.length < leadCount) {
    const lead = leads.length + 1;
    if (at + CHUNK_HEADER_BYTES > bytes.length) {
      throw new EcgXmlError(
        "ECG_XML_XLI_CORRUPT",
        `XLI data ends after ${leads.length} of ${leadCount} leads (no header for lead ${lead})`,
      );
    }
    const size = view.getInt32(at, true);
    const delta = view.getInt16(at + 6, true);
    const start = at + CHUNK_HEADER_BYTES;
    if (size < 0 || start + size > bytes.length) {
      throw new EcgXmlError(
        "ECG_XML_XLI_CORRUPT",
        `XLI chunk of lead ${lead} declares ${size} bytes, ${bytes.length - start} remain`,
      );
    }
    const planes = lzwDecompress(
      bytes.subarray(start, start + size),
      XLI_CODE_BITS,
      maxSamplesPerLead * 2,
      lead,
    );
    leads.push(undoSecondDifferences(joinBytePlanes(planes), delta));
    at = start + size;
  }
  return leads;
}

/**
 * LZW with fixed-width codes, MSB-first, no clear code; the dictionary stops growing when full.
 * Ends at the end marker (2^bits − 1) or when fewer than `bits` bits remain.
 */
export function lzwDecompress(data: Uint8Array, bits: number, maxOutputBytes: number, lead = 0): Uint8Array {
  const endCode = (1 << bits) - 1;
  const maxEntry = endCode - 1;
  const prefix = new Int32Array(endCode);
  const suffix = new Uint8Array(endCode);
  const first = new Uint8Array(endCode);
  const length = new Int32Array(endCode);
  for (let literal = 0; literal < 256; literal++) {
    prefix[literal] = -1;
    suffix[literal] = literal;
    first[literal] = literal;
    length[literal] = 1;
  }
  let next = 256;
  let previous = -1;
  let out = new Uint8Array(Math.min(maxOutputBytes, Math.max(1024, data.length * 4)));
  let written = 0;
  const totalBits = data.length * 8;
  for (let bit = 0; bit + bits <= totalBits; bit += bits) {
    const code = readBits(data, bit, bits);
    if (code === endCode) break;
    if (code > next || (code === next && previous < 0)) {
      throw new EcgXmlError(
        "ECG_XML_XLI_CORRUPT",
        `XLI lead ${lead}: LZW code ${code} before it was defined`,
      );
    }
    if (previous >= 0 && next <= maxEntry) {
      // The new entry is the previous string plus the first byte of this one; when this code is the
      // entry being made (the "KwKwK" case) that first byte is the previous string's own first byte.
      prefix[next] = previous;
      suffix[next] = code === next ? (first[previous] as number) : (first[code] as number);
      first[next] = first[previous] as number;
      length[next] = (length[previous] as number) + 1;
      next++;
    }
    const size = length[code] as number;
    if (written + size > maxOutputBytes) {
      throw new EcgXmlError(
        "ECG_XML_XLI_CORRUPT",
        `XLI lead ${lead} decompresses past ${maxOutputBytes} bytes`,
      );
    }
    if (written + size > out.length) {
      const grown = new Uint8Array(Math.min(maxOutputBytes, Math.max(out.length * 2, written + size)));
      grown.set(out.subarray(0, written));
      out = grown;
    }
    for (let c = code, p = written + size - 1; c >= 0; c = prefix[c] as number, p--)
      out[p] = suffix[c] as number;
    written += size;
    previous = code;
  }
  return out.subarray(0, written);
}

function readBits(data: Uint8Array, bit: number, bits: number): number {
  let value = 0;
  for (let k = 0; k < bits; k++) {
    const at = bit + k;
    value = (value << 1) | (((data[at >> 3] as number) >> (7 - (at & 7))) & 1);
  }
  return value;
}

/** [hi₀ … hiₙ₋₁ lo₀ … loₙ₋₁] → n signed 16-bit values (an odd last byte is padding). */
function joinBytePlanes(planes: Uint8Array): Int32Array {
  const n = planes.length >> 1;
  const values = new Int32Array(n);
  for (let k = 0; k < n; k++)
    values[k] = ((((planes[k] as number) << 8) | (planes[n + k] as number)) << 16) >> 16;
  return values;
}

function undoSecondDifferences(values: Int32Array, delta: number): Int32Array {
  let beforeLast = values[0] ?? 0;
  let last = values[1] ?? 0;
  let correction = delta;
  for (let k = 2; k < values.length; k++) {
    const sample = 2 * last - beforeLast - correction;
    correction = (values[k] as number) - CORRECTION_BIAS;
    values[k] = sample;
    beforeLast = last;
    last = sample;
  }
  return values;
}

/**
 * XLI stores III, aVR, aVL and aVF as the difference between Einthoven/Goldberger's prediction
 * from I and II and the measured lead (near zero, so they compress to almost nothing):
 *
 *   III = II − I − r₃          aVL = ⌊(I − III)/2⌉ − r_L
 *   aVR = −r_R − ⌊(I + II)/2⌉   aVF = ⌊(II + III)/2⌉ − r_F        (⌊x⌉: halves toward zero)
 *
 * The halving truncates toward zero, as C integer division in the cart does: on the 1.03 sample
 * (129DYPRG) it gives leads whose deviation from Goldberger's exact formulas averages ~0 and whose
 * sample-to-sample roughness is 25–50 % lower than with flooring (sierra-ecg-tools' JavaScript
 * floors, its C# truncates; the two differ by one unit where the sum is odd and negative).
 * Works by name and in place; does nothing unless I and II are present.
 */
export function restorePhilipsLimbLeads(byName: Map<string, Int32Array>): void {
  const one = byName.get("I");
  const two = byName.get("II");
  if (!one || !two) return;
  const half = (value: number) => Math.trunc(value / 2);
  const three = byName.get("III");
  if (three) for (let k = 0; k < three.length; k++) three[k] = at(two, k) - at(one, k) - at(three, k);
  const avr = byName.get("aVR");
  if (avr) for (let k = 0; k < avr.length; k++) avr[k] = -at(avr, k) - half(at(one, k) + at(two, k));
  if (!three) return;
  const avl = byName.get("aVL");
  if (avl) for (let k = 0; k < avl.length; k++) avl[k] = half(at(one, k) - at(three, k)) - at(avl, k);
  const avf = byName.get("aVF");
  if (avf) for (let k = 0; k < avf.length; k++) avf[k] = half(at(two, k) + at(three, k)) - at(avf, k);
}

function at(samples: Int32Array, k: number): number {
  return samples[k] ?? 0;
}
