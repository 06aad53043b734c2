/**
 * Small conversions every dialect needs: numbers, dates and times into the DICOM forms EcgRecord
 * uses, lead names, base64 and decimal sample lists into integers.
 */
import { STANDARD_12_LEADS } from "../ecg-record.ts";
import { EcgXmlError } from "./errors.ts";

/** A finite number from text, or undefined ("Failed", "Indeterminate", "" are common in exports). */
export function numberFrom(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(trimmed)) return undefined;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : undefined;
}

/** Rounds away binary noise (2.5 × 1000 stays 2500, 1 / 0.002 becomes 500). */
export function clean(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

/** DICOM DA (YYYYMMDD) from year, month, day if they form a real calendar date. */
export function dicomDate(year: number, month: number, day: number): string | undefined {
  if (!Number.isInteger(year) || !Number.isInteger(month) || !Number.isInteger(day)) return undefined;
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day)
    return undefined;
  return `${String(year).padStart(4, "0")}${String(month).padStart(2, "0")}${String(day).padStart(2, "0")}`;
}

/** DICOM TM (HHMMSS) from hours, minutes, seconds, when they are a valid time of day. */
export function dicomTime(hours: number, minutes: number, seconds: number): string | undefined {
  if (!(hours >= 0 && hours < 24 && minutes >= 0 && minutes < 60 && seconds >= 0 && seconds < 61))
    return undefined;
  return [hours, minutes, Math.floor(seconds)].map((n) => String(n).padStart(2, "0")).join("");
}

/** "2011-12-01" (ISO, Philips) → "20111201". */
export function dateFromIso(text: string | undefined): string | undefined {
  const match = /^\s*(\d{4})-(\d{1,2})-(\d{1,2})/.exec(text ?? "");
  return match ? dicomDate(Number(match[1]), Number(match[2]), Number(match[3])) : undefined;
}

/** "12-11-2018" or "12/11/2018" (month first, GE MUSE) → "20181211". */
export function dateFromMonthDayYear(text: string | undefined): string | undefined {
  const match = /^\s*(\d{1,2})[-/](\d{1,2})[-/](\d{4})\s*$/.exec(text ?? "");
  return match ? dicomDate(Number(match[3]), Number(match[1]), Number(match[2])) : undefined;
}

/** "07:27:34" or "07:27" → "072734" / "072700". */
export function timeFromColons(text: string | undefined): string | undefined {
  const match = /^\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*$/.exec(text ?? "");
  return match ? dicomTime(Number(match[1]), Number(match[2]), Number(match[3] ?? 0)) : undefined;
}

/**
 * HL7 v3 TS "YYYYMMDDHHMMSS.UUUU±ZZZZ" (any precision from the year on) → DICOM date and time.
 * The time zone, if any, is dropped: EcgRecord keeps the device's local time as stated.
 */
export function dateTimeFromHl7(text: string | undefined): { date?: string; time?: string } {
  const match = /^\s*(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})?(\d{2})?)?/.exec(text ?? "");
  if (!match) return {};
  const date = dicomDate(Number(match[1]), Number(match[2]), Number(match[3]));
  if (!date) return {};
  if (match[4] === undefined) return { date };
  const time = dicomTime(Number(match[4]), Number(match[5] ?? 0), Number(match[6] ?? 0));
  return time ? { date, time } : { date };
}

/** DICOM AS ("045Y", "006M", "003W", "010D") from a number and a unit letter; undefined beyond 999. */
export function dicomAge(value: number | undefined, unit: "Y" | "M" | "W" | "D"): string | undefined {
  if (value === undefined || !Number.isFinite(value) || value < 0) return undefined;
  const whole = Math.floor(value);
  return whole <= 999 ? `${String(whole).padStart(3, "0")}${unit}` : undefined;
}

/** DICOM PN from family and given names (either may be missing); undefined when both are empty. */
export function personName(family: string | undefined, given: string | undefined): string | undefined {
  const f = (family ?? "").trim().replaceAll("^", " ");
  const g = (given ?? "").trim().replaceAll("^", " ");
  if (!f && !g) return undefined;
  return g ? `${f}^${g}` : f;
}

/** Drops the fields that ended up undefined, so records compare and print cleanly. */
export function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

const STANDARD_BY_UPPER = new Map<string, string>(
  STANDARD_12_LEADS.map((name) => [name.toUpperCase(), name]),
);

/**
 * Our spelling of a lead name: the standard 12 exactly as STANDARD_12_LEADS writes them whatever
 * the vendor's case ("AVR", "avr" → "aVR"); HL7's "MDC_ECG_LEAD_" prefix dropped; others kept.
 */
export function normaliseLeadName(raw: string): string {
  const name = raw.trim().replace(/^MDC_ECG_LEAD_/i, "");
  return STANDARD_BY_UPPER.get(name.toUpperCase()) ?? name;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Base64 text (line breaks allowed) → bytes; anything else in it is a malformed file. */
export function bytesFromBase64(text: string, what: string): Uint8Array {
  const compacted = text.replace(/\s+/g, "");
  if (!BASE64.test(compacted) || compacted.length % 4 === 1) {
    throw new EcgXmlError("ECG_XML_MALFORMED", `${what} is not valid base64`);
  }
  return new Uint8Array(Buffer.from(compacted, "base64"));
}

/** Little-endian signed 16-bit samples → Int32Array (a trailing odd byte is a malformed file). */
export function int16LittleEndian(bytes: Uint8Array, what: string): Int32Array {
  if (bytes.length % 2 !== 0)
    throw new EcgXmlError("ECG_XML_MALFORMED", `${what} has an odd number of bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const samples = new Int32Array(bytes.length / 2);
  for (let k = 0; k < samples.length; k++) samples[k] = view.getInt16(k * 2, true);
  return samples;
}

/**
 * Whitespace-separated integers → Int32Array; any other token makes the file malformed. Scanned by
 * hand, not split: a long aECG holds millions of samples and a string per sample would not fit a Pi.
 */
export function integersFromText(text: string, what: string, maxCount: number): Int32Array {
  const count = countTokens(text);
  if (count > maxCount) {
    throw new EcgXmlError(
      "ECG_XML_TOO_LARGE",
      `${what} holds ${count} samples; at most ${maxCount} are accepted`,
    );
  }
  const values = new Int32Array(count);
  let k = 0;
  let at = 0;
  const length = text.length;
  while (at < length) {
    while (at < length && isSpace(text.charCodeAt(at))) at++;
    if (at >= length) break;
    let sign = 1;
    const c = text.charCodeAt(at);
    if (c === 0x2d || c === 0x2b) {
      if (c === 0x2d) sign = -1;
      at++;
    }
    let value = 0;
    let digits = 0;
    while (at < length && !isSpace(text.charCodeAt(at))) {
      const d = text.charCodeAt(at) - 0x30;
      if (d < 0 || d > 9 || digits >= 10) {
        throw new EcgXmlError("ECG_XML_MALFORMED", `${what}: value ${k + 1} is not an integer sample`);
      }
      value = value * 10 + d;
      digits++;
      at++;
    }
    value *= sign;
    if (digits === 0 || value < -2147483648 || value > 2147483647) {
      throw new EcgXmlError("ECG_XML_MALFORMED", `${what}: value ${k + 1} is not an integer sample`);
    }
    values[k++] = value;
  }
  return values;
}

function countTokens(text: string): number {
  let count = 0;
  let inToken = false;
  for (let at = 0; at < text.length; at++) {
    const space = isSpace(text.charCodeAt(at));
    if (!space && !inToken) count++;
    inToken = !space;
  }
  return count;
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}
