/**
 * Dates and times as DICOM writes them (PS3.5 6.2: DA YYYYMMDD, TM HHMMSS[.FFFFFF], DT, and the
 * "+HHMM" of Timezone Offset From UTC), in the box's local time: carts state local time without a
 * zone, and a reader in the same county expects the times it sees on the cart.
 */

export interface LocalDateTime {
  /** DA, YYYYMMDD. */
  date: string;
  /** TM, HHMMSS. */
  time: string;
}

/** The wall-clock date and time at `instant` in a zone `utcOffsetMinutes` east of UTC. */
export function localDateTime(instant: Date, utcOffsetMinutes: number): LocalDateTime {
  const shifted = new Date(instant.getTime() + utcOffsetMinutes * 60_000).toISOString();
  // ISO form YYYY-MM-DDTHH:MM:SS.sssZ of the shifted instant: its UTC fields are the local ones.
  return {
    date: shifted.slice(0, 10).replaceAll("-", ""),
    time: shifted.slice(11, 19).replaceAll(":", ""),
  };
}

/** PS3.3 C.12.1.1.8: "+HHMM" / "-HHMM". */
export function formatUtcOffset(utcOffsetMinutes: number): string {
  const sign = utcOffsetMinutes < 0 ? "-" : "+";
  const minutes = Math.abs(utcOffsetMinutes);
  return `${sign}${String(Math.floor(minutes / 60)).padStart(2, "0")}${String(minutes % 60).padStart(2, "0")}`;
}

/** A real calendar date in DA form (YYYYMMDD). */
export function isDicomDate(value: string): boolean {
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** A TM value: HH, HHMM, HHMMSS or HHMMSS.F{1,6}, each field in range. */
export function isDicomTime(value: string): boolean {
  const match = /^(\d{2})(?:(\d{2})(?:(\d{2})(?:\.\d{1,6})?)?)?$/.exec(value);
  if (!match) return false;
  return Number(match[1]) < 24 && Number(match[2] ?? 0) < 60 && Number(match[3] ?? 0) < 60;
}

/** Split a DT value (YYYYMMDDHHMMSS.FFFFFF&ZZXX, trailing parts optional) into DA and TM. */
export function splitDateTime(value: string): { date?: string; time?: string } {
  const match = /^(\d{8})(\d{2,6}(?:\.\d{1,6})?)?(?:[+-]\d{4})?$/.exec(value.trim());
  if (!match) return {};
  const date = match[1] ?? "";
  const time = match[2];
  return {
    ...(isDicomDate(date) ? { date } : {}),
    ...(time !== undefined && isDicomTime(time) ? { time } : {}),
  };
}
