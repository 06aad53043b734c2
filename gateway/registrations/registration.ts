/**
 * A patient registered at the box for one examination: what the technician types once, plus the
 * identifiers the box assigns so the modality's images come back linked (accession number, Study
 * Instance UID, requested procedure and scheduled procedure step IDs). Validation of the API input
 * lives here too, against the DICOM VRs the values end up in (PS3.5 6.2).
 */
import { gatewayError } from "../errors.ts";

export type RegistrationState = "scheduled" | "in-progress" | "completed" | "expired";

export interface Registration {
  registrationId: string;
  patientId: string;
  /** DICOM PN: `Family^Given`, optionally `Alphabetic=Ideographic` (`Zhang^San=张^三`). */
  patientName: string;
  patientSex: "M" | "F" | "O";
  /** DA, YYYYMMDD. */
  patientBirthDate: string;
  modality: string;
  accessionNumber: string;
  procedureDescription: string;
  referringPhysician: string;
  /** Empty: any station may perform it. */
  scheduledStationAeTitle: string;
  requestedProcedureId: string;
  scheduledProcedureStepId: string;
  studyInstanceUid: string;
  scheduledAt: string;
  registeredAt: string;
  expiresAt: string;
  /** Stored state; `completed` and `expired` are derived when read (registration-store.ts). */
  state: "scheduled" | "in-progress";
  /** Studies that arrived for this registration (normally the pre-assigned one). */
  studyInstanceUids: string[];
  firstInstanceAt: string | null;
}

export interface RegistrationInput {
  patientId: string;
  patientName: string;
  patientSex: "M" | "F" | "O";
  patientBirthDate: string;
  modality: string;
  accessionNumber?: string;
  procedureDescription?: string;
  referringPhysician?: string;
  scheduledStationAeTitle?: string;
  scheduledAt?: Date;
}

const FIELDS = new Set([
  "patientId",
  "patientName",
  "patientSex",
  "patientBirthDate",
  "modality",
  "accessionNumber",
  "procedureDescription",
  "referringPhysician",
  "scheduledStationAeTitle",
  "scheduledAt",
]);

/** PS3.5 6.2: no VR used here allows control characters or the value delimiter `\`. */
function hasForbidden(value: string): boolean {
  return [...value].some((c) => c === "\\" || (c.codePointAt(0) ?? 0) < 0x20 || c === "\u007f");
}

function invalid(field: string, message: string): never {
  throw gatewayError("REGISTRATION_INVALID", `${field}: ${message}`, { field });
}

/** Check a POST /api/registrations body; throws REGISTRATION_INVALID naming the first bad field. */
export function validateRegistrationInput(body: unknown, now: Date): RegistrationInput {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    invalid("body", "must be a JSON object");
  }
  const raw = body as Record<string, unknown>;
  for (const key of Object.keys(raw)) if (!FIELDS.has(key)) invalid(key, "unknown field");

  const str = (field: string, max: number, required: boolean): string | undefined => {
    const value = raw[field];
    if (value === undefined || value === null || value === "") {
      if (required) invalid(field, "is required");
      return undefined;
    }
    if (typeof value !== "string") invalid(field, "must be a string");
    const trimmed = value.trim();
    if (trimmed === "") invalid(field, "must not be blank");
    if (hasForbidden(trimmed)) invalid(field, "must not contain control characters or a backslash");
    if ([...trimmed].length > max) invalid(field, `must be at most ${max} characters`);
    return trimmed;
  };

  const patientId = str("patientId", 64, true)!; // LO
  const patientName = personName("patientName", str("patientName", 64 * 3 + 2, true)!);
  const sex = str("patientSex", 1, true)!.toUpperCase();
  if (sex !== "M" && sex !== "F" && sex !== "O") invalid("patientSex", "must be M, F or O");
  const patientBirthDate = birthDate(str("patientBirthDate", 10, true)!, now);
  const modality = str("modality", 16, true)!.toUpperCase(); // CS
  if (!/^[A-Z0-9_]+$/.test(modality)) invalid("modality", "must be a DICOM modality code such as US, DX, CR");
  const input: RegistrationInput = { patientId, patientName, patientSex: sex, patientBirthDate, modality };

  const accessionNumber = str("accessionNumber", 16, false); // SH
  if (accessionNumber !== undefined) input.accessionNumber = accessionNumber;
  const procedureDescription = str("procedureDescription", 64, false); // LO
  if (procedureDescription !== undefined) input.procedureDescription = procedureDescription;
  const referringPhysician = str("referringPhysician", 64 * 3 + 2, false);
  if (referringPhysician !== undefined)
    input.referringPhysician = personName("referringPhysician", referringPhysician);
  const station = str("scheduledStationAeTitle", 16, false); // AE
  if (station !== undefined) {
    if (!/^[ -~]+$/.test(station)) invalid("scheduledStationAeTitle", "must be printable ASCII");
    input.scheduledStationAeTitle = station;
  }
  const scheduledAt = str("scheduledAt", 40, false);
  if (scheduledAt !== undefined) {
    const at = new Date(scheduledAt);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(scheduledAt) || Number.isNaN(at.getTime())) {
      invalid("scheduledAt", "must be an ISO 8601 date-time such as 2026-11-25T09:30:00+08:00");
    }
    input.scheduledAt = at;
  }
  return input;
}

/** PN: at most three component groups of at most 64 characters each (PS3.5 6.2, Table 6.2-1). */
function personName(field: string, value: string): string {
  const groups = value.split("=");
  if (groups.length > 3) invalid(field, "has more than three component groups");
  if (groups.some((group) => [...group].length > 64))
    invalid(field, "has a component group over 64 characters");
  if (groups.some((group) => group.split("^").length > 5)) invalid(field, "has more than five components");
  return value;
}

/** DA from `YYYYMMDD` or `YYYY-MM-DD`: a real calendar date, not in the future. */
function birthDate(value: string, now: Date): string {
  const digits = /^\d{4}-\d{2}-\d{2}$/.test(value) ? value.replaceAll("-", "") : value;
  if (!/^\d{8}$/.test(digits)) invalid("patientBirthDate", "must be YYYYMMDD or YYYY-MM-DD");
  const year = Number(digits.slice(0, 4));
  const month = Number(digits.slice(4, 6));
  const day = Number(digits.slice(6, 8));
  const date = new Date(year, month - 1, day);
  if (date.getFullYear() !== year || date.getMonth() !== month - 1 || date.getDate() !== day || year < 1880) {
    invalid("patientBirthDate", "is not a valid date");
  }
  if (digits > localDate(now)) invalid("patientBirthDate", "is in the future");
  return digits;
}

/** DA of a moment in the box's local time (the modality's clock is local too). */
export function localDate(at: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${at.getFullYear()}${pad(at.getMonth() + 1)}${pad(at.getDate())}`;
}

/** TM (HHMMSS) of a moment in the box's local time. */
export function localTime(at: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(at.getHours())}${pad(at.getMinutes())}${pad(at.getSeconds())}`;
}

/** PS3.5 B.2: a UID under the 2.25 root is the decimal form of a UUID. */
export function uidFromUuid(uuid: string): string {
  return `2.25.${BigInt(`0x${uuid.replaceAll("-", "")}`).toString(10)}`;
}
