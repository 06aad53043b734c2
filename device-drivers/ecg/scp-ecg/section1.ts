/**
 * Section 1, patient and acquisition data (EN 1064 5.5): tagged fields — tag (1 byte), length
 * (2), value — up to tag 255. Text is zero-terminated in the character set of the acquiring
 * device's language support code (tag 14), so tag 14 is read before any text.
 *
 * Fields EcgRecord has a place for go there; the rest (free text, referral indications, drugs, the
 * analysing device, …) are returned beside it for whoever wants them.
 */
import type { EcgRecord } from "../ecg-record.ts";
import { ByteWindow, ByteWriter } from "./bytes.ts";
import { encodeText, type ScpCharacterSet, textDecoderFor } from "./text.ts";

export const TAG = {
  lastName: 0,
  firstName: 1,
  patientId: 2,
  secondLastName: 3,
  age: 4,
  birthDate: 5,
  height: 6,
  weight: 7,
  sex: 8,
  race: 9,
  drugs: 10,
  systolicPressure: 11,
  diastolicPressure: 12,
  referralIndication: 13,
  acquiringDevice: 14,
  analysingDevice: 15,
  acquiringInstitution: 16,
  analysingInstitution: 17,
  acquiringDepartment: 18,
  analysingDepartment: 19,
  referringPhysician: 20,
  confirmingPhysician: 21,
  technician: 22,
  room: 23,
  statCode: 24,
  acquisitionDate: 25,
  acquisitionTime: 26,
  baselineFilter: 27,
  lowPassFilter: 28,
  filterBitmap: 29,
  freeText: 30,
  sequenceNumber: 31,
  medicalHistoryCodes: 32,
  electrodeConfiguration: 33,
  timeZone: 34,
  medicalHistoryText: 35,
  terminator: 255,
} as const;

/** Tag 14/15, the machine that acquired (or analysed) the ECG. */
export interface ScpDevice {
  institutionNumber: number;
  departmentNumber: number;
  deviceId: number;
  /** 0 cart, 1 host system. */
  deviceType: number;
  manufacturerCode: number;
  /** The 6-byte model description. */
  model?: string;
  protocolRevision: number;
  compatibilityLevel: number;
  languageCode: number;
  capabilities: number;
  mainsFrequencyHz?: 50 | 60;
  analysingProgramRevision?: string;
  serialNumber?: string;
  systemSoftware?: string;
  implementationSoftware?: string;
  /** The manufacturer's trade name, as a string. */
  manufacturer?: string;
}

/** Section 1 content with no place in EcgRecord. */
export interface ScpSection1Extras {
  secondLastName?: string;
  drugs: string[];
  referralIndications: string[];
  freeText: string[];
  medicalHistory: string[];
  systolicPressureMmHg?: number;
  diastolicPressureMmHg?: number;
  analysingInstitution?: string;
  analysingDepartment?: string;
  confirmingPhysician?: string;
  room?: string;
  statCode?: number;
  sequenceNumber?: string;
  timeZoneOffsetMinutes?: number;
  acquiringDevice?: ScpDevice;
  analysingDevice?: ScpDevice;
  /** Manufacturer-specific tags (200–254) present, by number only. */
  manufacturerTags: number[];
}

export interface ScpSection1 {
  patient: EcgRecord["patient"];
  acquisition: EcgRecord["acquisition"];
  extras: ScpSection1Extras;
  /** The language support code the text was decoded under (undefined: no tag 14). */
  languageCode?: number;
  notes: string[];
}

/** SCP manufacturer codes (tag 14 byte 7), used when the device gives no trade name. */
const MANUFACTURERS: Record<number, string> = {
  1: "Burdick",
  2: "Cambridge Heart",
  3: "Compumed",
  4: "Datamed",
  5: "Fukuda",
  6: "Hewlett-Packard",
  7: "Marquette Electronics",
  8: "Mortara Instrument",
  9: "Nihon Kohden",
  10: "Okin",
  11: "Quinton",
  12: "Siemens",
  13: "Spacelabs",
  14: "Telemed",
  15: "Hellige",
  16: "ESA-OTE",
  17: "Schiller",
  18: "Picker-Schwarzer",
  19: "Elettronica-Trentina",
  20: "Zwönitz",
};

interface RawField {
  tag: number;
  value: Uint8Array;
}

export function readSection1(body: ByteWindow): ScpSection1 {
  const notes: string[] = [];
  const fields = readFields(body, notes);
  const first = (tag: number) => fields.find((field) => field.tag === tag)?.value;
  const all = (tag: number) => fields.filter((field) => field.tag === tag).map((field) => field.value);

  const acquiringDeviceBytes = first(TAG.acquiringDevice);
  const languageCode =
    acquiringDeviceBytes && acquiringDeviceBytes.length > 16 ? acquiringDeviceBytes[16] : undefined;
  const decode = textDecoderFor(languageCode);
  const text = (tag: number) => {
    const value = first(tag);
    const decoded = value ? decode(value) : "";
    return decoded === "" ? undefined : decoded;
  };
  const texts = (tag: number) =>
    all(tag)
      .map(decode)
      .filter((value) => value !== "");

  const patient: EcgRecord["patient"] = {};
  const acquisition: EcgRecord["acquisition"] = {};
  const extras: ScpSection1Extras = {
    drugs: [],
    referralIndications: texts(TAG.referralIndication),
    freeText: texts(TAG.freeText),
    medicalHistory: texts(TAG.medicalHistoryText),
    manufacturerTags: [
      ...new Set(fields.filter((field) => field.tag >= 200 && field.tag < 255).map((f) => f.tag)),
    ],
  };

  assign(patient, "id", text(TAG.patientId));
  const lastName = text(TAG.lastName);
  const firstName = text(TAG.firstName);
  const secondLastName = text(TAG.secondLastName);
  assign(patient, "name", personName(lastName, firstName, secondLastName));
  assign(extras, "secondLastName", secondLastName);
  assign(patient, "age", age(first(TAG.age), notes));
  assign(patient, "birthDate", date(first(TAG.birthDate)));
  assign(patient, "heightCm", height(first(TAG.height)));
  assign(patient, "weightKg", weight(first(TAG.weight)));
  assign(patient, "sex", sex(first(TAG.sex)));

  for (const value of all(TAG.drugs)) {
    // Table index (1), class (1), drug code (1), then the text.
    if (value.length > 3) {
      const name = decode(value.subarray(3));
      if (name !== "") extras.drugs.push(name);
    }
  }
  assign(extras, "systolicPressureMmHg", unsigned16(first(TAG.systolicPressure)));
  assign(extras, "diastolicPressureMmHg", unsigned16(first(TAG.diastolicPressure)));

  const acquiringDevice = acquiringDeviceBytes ? readDevice(acquiringDeviceBytes, decode) : undefined;
  const analysingBytes = first(TAG.analysingDevice);
  assign(extras, "acquiringDevice", acquiringDevice);
  assign(extras, "analysingDevice", analysingBytes ? readDevice(analysingBytes, decode) : undefined);
  if (acquiringDevice) {
    const manufacturer = acquiringDevice.manufacturer ?? MANUFACTURERS[acquiringDevice.manufacturerCode];
    assign(acquisition, "manufacturer", manufacturer);
    assign(acquisition, "model", acquiringDevice.model);
    assign(acquisition, "deviceSerialNumber", acquiringDevice.serialNumber);
    assign(
      acquisition,
      "softwareVersion",
      acquiringDevice.systemSoftware ?? acquiringDevice.analysingProgramRevision,
    );
  }

  assign(acquisition, "institution", text(TAG.acquiringInstitution));
  assign(acquisition, "department", text(TAG.acquiringDepartment));
  assign(acquisition, "referringPhysician", text(TAG.referringPhysician));
  assign(acquisition, "operator", text(TAG.technician));
  assign(extras, "analysingInstitution", text(TAG.analysingInstitution));
  assign(extras, "analysingDepartment", text(TAG.analysingDepartment));
  assign(extras, "confirmingPhysician", text(TAG.confirmingPhysician));
  assign(extras, "room", text(TAG.room));
  const stat = first(TAG.statCode);
  assign(extras, "statCode", stat && stat.length >= 1 ? stat[0] : undefined);
  assign(extras, "sequenceNumber", text(TAG.sequenceNumber));
  assign(acquisition, "date", date(first(TAG.acquisitionDate)));
  assign(acquisition, "time", time(first(TAG.acquisitionTime)));

  // Tag 27: high-pass ("baseline") cut-off in 1/100 Hz; tag 28: low-pass cut-off in Hz.
  const highPass = unsigned16(first(TAG.baselineFilter));
  assign(acquisition, "highPassHz", highPass ? highPass / 100 : undefined);
  assign(acquisition, "lowPassHz", unsigned16(first(TAG.lowPassFilter)) || undefined);
  // Tag 29: bit 0 a 60 Hz notch filter, bit 1 a 50 Hz notch filter.
  const bitmap = first(TAG.filterBitmap)?.[0];
  if (bitmap !== undefined && (bitmap & 0b11) !== 0) {
    assign(acquisition, "notchHz", bitmap & 0b10 ? 50 : 60);
    if ((bitmap & 0b11) === 0b11)
      notes.push("section 1 states both a 50 Hz and a 60 Hz notch filter; 50 Hz kept");
  }
  const zone = first(TAG.timeZone);
  if (zone && zone.length >= 2) {
    const offset = new ByteWindow(zone, 0, zone.length, "tag 34").i16(0, "time zone offset");
    // 0x7FFF means "not used".
    if (offset !== 0x7fff && Math.abs(offset) <= 14 * 60) extras.timeZoneOffsetMinutes = offset;
  }
  const result: ScpSection1 = { patient, acquisition, extras, notes };
  if (languageCode !== undefined) result.languageCode = languageCode;
  return result;
}

function readFields(body: ByteWindow, notes: string[]): RawField[] {
  const fields: RawField[] = [];
  let offset = 0;
  while (offset < body.length) {
    const tag = body.u8(offset, "tag");
    if (tag === TAG.terminator) return fields;
    if (offset + 3 > body.length) break;
    const length = body.u16(offset + 1, "tag length");
    if (offset + 3 + length > body.length) {
      notes.push(
        `section 1 tag ${tag} states ${length} bytes, more than the section holds; section 1 read up to it`,
      );
      return fields;
    }
    fields.push({ tag, value: body.slice(offset + 3, length, `tag ${tag}`) });
    offset += 3 + length;
  }
  notes.push("section 1 has no terminating tag 255");
  return fields;
}

function assign<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

/** DICOM PN: family name group (last name, then any second last name) ^ given name. */
export function personName(last?: string, first?: string, secondLast?: string): string | undefined {
  // "^" and "=" are PN delimiters; inside a name component they would shift the components.
  const clean = (value?: string) => value?.replace(/[\^=\\]/g, " ").trim() ?? "";
  const family = [clean(last), clean(secondLast)].filter((part) => part !== "").join(" ");
  const given = clean(first);
  if (family === "" && given === "") return undefined;
  return given === "" ? family : `${family}^${given}`;
}

const AGE_UNITS: Record<number, string> = { 1: "Y", 2: "M", 3: "W", 4: "D" };

function age(value: Uint8Array | undefined, notes: string[]): string | undefined {
  if (!value || value.length < 3) return undefined;
  let amount = (value[0] ?? 0) | ((value[1] ?? 0) << 8);
  const unitCode = value[2] ?? 0;
  if (amount === 0 && unitCode === 0) return undefined;
  let unit = AGE_UNITS[unitCode];
  if (unitCode === 5) {
    // Hours: DICOM AS has no hours, so whole days.
    amount = Math.floor(amount / 24);
    unit = "D";
  }
  if (!unit) {
    notes.push("section 1 gives an age without a unit; ignored");
    return undefined;
  }
  if (amount > 999) return undefined;
  return `${String(amount).padStart(3, "0")}${unit}`;
}

/** Year (2), month (1), day (1) → DICOM DA; undefined unless a real calendar date. */
function date(value: Uint8Array | undefined): string | undefined {
  if (!value || value.length < 4) return undefined;
  const year = (value[0] ?? 0) | ((value[1] ?? 0) << 8);
  const month = value[2] ?? 0;
  const day = value[3] ?? 0;
  if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1) return undefined;
  if (day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return undefined;
  return `${String(year).padStart(4, "0")}${pad2(month)}${pad2(day)}`;
}

/** Hour, minute, second → DICOM TM. */
function time(value: Uint8Array | undefined): string | undefined {
  if (!value || value.length < 3) return undefined;
  const [hour = 0, minute = 0, second = 0] = value;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  return `${pad2(hour)}${pad2(minute)}${pad2(second)}`;
}

function pad2(value: number): string {
  return String(value).padStart(2, "0");
}

function unsigned16(value: Uint8Array | undefined): number | undefined {
  if (!value || value.length < 2) return undefined;
  return (value[0] ?? 0) | ((value[1] ?? 0) << 8);
}

function height(value: Uint8Array | undefined): number | undefined {
  const amount = unsigned16(value);
  if (!amount || !value) return undefined;
  const unit = value[2];
  if (unit === 1) return amount;
  if (unit === 2) return round1(amount * 2.54);
  if (unit === 3) return amount / 10;
  return undefined;
}

function weight(value: Uint8Array | undefined): number | undefined {
  const amount = unsigned16(value);
  if (!amount || !value) return undefined;
  const unit = value[2];
  if (unit === 1) return amount;
  if (unit === 2) return amount / 1000;
  if (unit === 3) return round1(amount * 0.45359237);
  if (unit === 4) return round1(amount * 0.028349523125);
  return undefined;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

function sex(value: Uint8Array | undefined): "M" | "F" | undefined {
  // 0 not known, 1 male, 2 female, 9 unspecified: only the two stated sexes carry information.
  if (value?.[0] === 1) return "M";
  if (value?.[0] === 2) return "F";
  return undefined;
}

/**
 * Tag 14/15 layout: institution (2), department (2), device ID (2), device type (1), manufacturer
 * code (1), model (6), protocol revision (1), compatibility level (1), language code (1),
 * capabilities (1), mains frequency (1: 0 unknown, 1 50 Hz, 2 60 Hz), reserved (16), then the
 * analysing program revision (a length byte and the string) and four zero-terminated strings:
 * serial number, system software, SCP implementation software, manufacturer trade name.
 */
function readDevice(value: Uint8Array, decode: (bytes: Uint8Array) => string): ScpDevice | undefined {
  if (value.length < 19) return undefined;
  const window = new ByteWindow(value, 0, value.length, "acquiring device");
  const device: ScpDevice = {
    institutionNumber: window.u16(0, "institution number"),
    departmentNumber: window.u16(2, "department number"),
    deviceId: window.u16(4, "device ID"),
    deviceType: window.u8(6, "device type"),
    manufacturerCode: window.u8(7, "manufacturer code"),
    protocolRevision: window.u8(14, "protocol revision"),
    compatibilityLevel: window.u8(15, "compatibility level"),
    languageCode: window.u8(16, "language support code"),
    capabilities: window.u8(17, "capabilities"),
  };
  assign(device, "model", placeholderless(decode(value.subarray(8, 14))));
  const mains = window.u8(18, "mains frequency");
  if (mains === 1) device.mainsFrequencyHz = 50;
  if (mains === 2) device.mainsFrequencyHz = 60;
  let offset = 35;
  if (offset < value.length) {
    const length = value[offset] ?? 0;
    const end = Math.min(value.length, offset + 1 + length);
    assign(device, "analysingProgramRevision", placeholderless(decode(value.subarray(offset + 1, end))));
    offset = end;
  }
  for (const key of ["serialNumber", "systemSoftware", "implementationSoftware", "manufacturer"] as const) {
    if (offset >= value.length) break;
    const terminator = value.indexOf(0, offset);
    const end = terminator < 0 ? value.length : terminator;
    assign(device, key, placeholderless(decode(value.subarray(offset, end))));
    offset = end + 1;
  }
  return device;
}

/** Writers fill fields they do not know with "unknown"; that is not a value. */
function placeholderless(value: string): string | undefined {
  return value === "" || value.toLowerCase() === "unknown" ? undefined : value;
}

/** Options for writing section 1. */
export interface Section1Options {
  characterSet: ScpCharacterSet;
  /** Language support code for all the record's text (section 1 and the statements). */
  languageCode: number;
  /** SCP protocol revision written in tag 14 (20 = v2.0). */
  protocolRevision: number;
  /** Protocol compatibility level (tag 14 byte 15): 0xA0 rhythm only, 0xC0 with reference beats. */
  compatibilityLevel: number;
}

/** Section 1 body for a record: every patient and acquisition field EcgRecord has, tags in order. */
export function writeSection1(record: EcgRecord, options: Section1Options): Uint8Array {
  const { patient, acquisition } = record;
  const text = (value: string, maxBytes = 64) => encodeText(value, options.characterSet, maxBytes);
  const writer = new ByteWriter();
  const field = (tag: number, value: Uint8Array) => writer.u8(tag).u16(value.length).bytes(value);

  const [family = "", given = ""] = (patient.name ?? "").split("^");
  if (family.trim() !== "") field(TAG.lastName, text(family.trim()));
  if (given.trim() !== "") field(TAG.firstName, text(given.trim()));
  // Tag 2 is mandatory: an empty ID when the record has none.
  field(TAG.patientId, text(patient.id ?? ""));
  const ageMatch = /^(\d{3})([DWMY])$/.exec(patient.age ?? "");
  if (ageMatch) {
    const unit = { Y: 1, M: 2, W: 3, D: 4 }[ageMatch[2] as "Y" | "M" | "W" | "D"];
    field(TAG.age, new ByteWriter().u16(Number(ageMatch[1])).u8(unit).toBytes());
  }
  const birth = dateBytes(patient.birthDate);
  if (birth) field(TAG.birthDate, birth);
  if (patient.heightCm !== undefined && patient.heightCm > 0) {
    const millimetres = Math.round(patient.heightCm * 10);
    const exactCm = Number.isInteger(patient.heightCm);
    field(
      TAG.height,
      exactCm
        ? new ByteWriter().u16(patient.heightCm).u8(1).toBytes()
        : new ByteWriter().u16(millimetres).u8(3).toBytes(),
    );
  }
  if (patient.weightKg !== undefined && patient.weightKg > 0) {
    const grams = Math.round(patient.weightKg * 1000);
    // Grams keep a fractional weight exactly while they fit 16 bits (65 kg); otherwise whole kilograms.
    const inGrams = !Number.isInteger(patient.weightKg) && grams <= 0xffff;
    field(
      TAG.weight,
      inGrams
        ? new ByteWriter().u16(grams).u8(2).toBytes()
        : new ByteWriter()
            .u16(Math.min(0xffff, Math.round(patient.weightKg)))
            .u8(1)
            .toBytes(),
    );
  }
  if (patient.sex === "M" || patient.sex === "F") field(TAG.sex, Uint8Array.of(patient.sex === "M" ? 1 : 2));
  field(TAG.acquiringDevice, deviceBytes(record, options));
  if (acquisition.institution) field(TAG.acquiringInstitution, text(acquisition.institution));
  if (acquisition.department) field(TAG.acquiringDepartment, text(acquisition.department));
  if (acquisition.referringPhysician) field(TAG.referringPhysician, text(acquisition.referringPhysician));
  if (acquisition.operator) field(TAG.technician, text(acquisition.operator));
  // Tags 25 and 26 are mandatory: zeros ("not known") when the record has no date or time.
  field(TAG.acquisitionDate, dateBytes(acquisition.date) ?? new Uint8Array(4));
  field(TAG.acquisitionTime, timeBytes(acquisition.time) ?? new Uint8Array(3));
  if (acquisition.highPassHz !== undefined && acquisition.highPassHz > 0) {
    field(
      TAG.baselineFilter,
      new ByteWriter().u16(Math.min(0xffff, Math.round(acquisition.highPassHz * 100))).toBytes(),
    );
  }
  if (acquisition.lowPassHz !== undefined && acquisition.lowPassHz > 0) {
    field(
      TAG.lowPassFilter,
      new ByteWriter().u16(Math.min(0xffff, Math.round(acquisition.lowPassHz))).toBytes(),
    );
  }
  if (acquisition.notchHz === 50 || acquisition.notchHz === 60) {
    field(TAG.filterBitmap, Uint8Array.of(acquisition.notchHz === 50 ? 0b10 : 0b01));
  }
  writer.u8(TAG.terminator).u16(0);
  return writer.padToEven().toBytes();
}

function dateBytes(value: string | undefined): Uint8Array | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec(value ?? "");
  if (!match) return undefined;
  return new ByteWriter().u16(Number(match[1])).u8(Number(match[2])).u8(Number(match[3])).toBytes();
}

function timeBytes(value: string | undefined): Uint8Array | undefined {
  const match = /^(\d{2})(\d{2})(\d{2})/.exec(value ?? "");
  if (!match) return undefined;
  return Uint8Array.of(Number(match[1]), Number(match[2]), Number(match[3]));
}

/** Tag 14 for our records: what the record knows of the device, "SCP implementation" = dxgate. */
function deviceBytes(record: EcgRecord, options: Section1Options): Uint8Array {
  const { acquisition } = record;
  const ascii = (value: string) =>
    Uint8Array.from([...value].map((c) => (c.charCodeAt(0) < 0x80 ? c.charCodeAt(0) : 0x3f)));
  const model = new Uint8Array(6);
  model.set(ascii(acquisition.model ?? "").subarray(0, 6));
  const mains = acquisition.notchHz === 50 ? 1 : acquisition.notchHz === 60 ? 2 : 0;
  const string = (value: string | undefined) => encodeText(value ?? "", options.characterSet, 64);
  return new ByteWriter()
    .u16(0) // institution number
    .u16(0) // department number
    .u16(0) // device ID
    .u8(0) // device type: cart
    .u8(255) // manufacturer: named by the trade-name string below
    .bytes(model)
    .u8(options.protocolRevision)
    .u8(options.compatibilityLevel)
    .u8(options.languageCode)
    .u8(0x08) // capabilities: acquire
    .u8(mains)
    .bytes(new Uint8Array(16)) // reserved
    .u8(1) // analysing program revision: empty string
    .u8(0)
    .bytes(string(acquisition.deviceSerialNumber))
    .bytes(string(acquisition.softwareVersion))
    .bytes(string("dxgate"))
    .bytes(string(acquisition.manufacturer))
    .toBytes();
}
