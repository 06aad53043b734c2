/**
 * Numbers as DICOM Decimal Strings (PS3.5 6.2, DS): at most 16 characters of digits, sign, point
 * and exponent. The writer chooses channel sensitivities and sampling frequencies as numbers; these
 * turn them into text a reader parses back to (very nearly) the same number.
 */

const MAX_DS_LENGTH = 16;

/** The shortest DS for `value` that fits 16 characters, keeping as many significant digits as fit. */
export function formatDs(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
  const plain = String(value);
  if (plain.length <= MAX_DS_LENGTH && !/e/i.test(plain)) return plain;
  for (let digits = 15; digits >= 1; digits -= 1) {
    const candidate = trimZeros(value.toPrecision(digits));
    if (candidate.length <= MAX_DS_LENGTH) return candidate;
  }
  throw new RangeError(`cannot write ${value} as a decimal string`);
}

/**
 * A DS not smaller than `value`, rounded up to `significantDigits`: when samples are divided by a
 * scale factor to fit 16 bits, the written factor must not be smaller than the one needed, or the
 * largest sample would overflow after all.
 */
export function formatDsAtLeast(value: number, significantDigits = 8): string {
  if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`not a positive finite number: ${value}`);
  const scale = 10 ** (significantDigits - 1 - Math.floor(Math.log10(value)));
  let rounded = Math.ceil(value * scale) / scale;
  let text = formatDs(rounded);
  // Binary floating point can land a hair below `value` after the division; step up one unit.
  while (Number(text) < value) {
    rounded += 1 / scale;
    text = formatDs(rounded);
  }
  return text;
}

function trimZeros(text: string): string {
  if (!text.includes(".")) return text;
  const [mantissa = "", exponent] = text.split(/e/i);
  const trimmed = mantissa.replace(/0+$/, "").replace(/\.$/, "");
  return exponent === undefined ? trimmed : `${trimmed}e${exponent}`;
}
