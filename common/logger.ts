/**
 * Structured JSON logging (pino), one logger per process made in main.ts and passed down as children.
 *
 * Patient data never belongs in a log line: callers log UIDs, sizes, counts, AE titles and states.
 * The redaction list below is a backstop for the known patient keys, not a licence to log objects
 * wholesale.
 */
import { pino } from "pino";

/** The logging surface modules depend on (pino's, so children keep their bindings). */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

const PATIENT_KEYS = [
  "patient",
  "patientName",
  "patientId",
  "patientBirthDate",
  "patientSex",
  "patientAge",
  "PatientName",
  "PatientID",
  "PatientBirthDate",
  "PatientSex",
  "PatientAge",
  "findings",
  "impression",
  "password",
  "token",
  "authorization",
];

export const REDACTED_PATHS: readonly string[] = [...PATIENT_KEYS, ...PATIENT_KEYS.map((key) => `*.${key}`)];

export interface LoggerOptions {
  /** Process name, stamped on every line (`dxgate-gateway`, `dxgate-reading-centre`). */
  name: string;
  level?: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to read the lines back. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? "info",
      redact: { paths: [...REDACTED_PATHS], censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
      base: { pid: process.pid },
    },
    options.destination ?? process.stdout,
  ) as unknown as Logger;
}

/** A logger that drops everything: the default for libraries and unit tests. */
export function silentLogger(): Logger {
  return pino({ level: "silent" }) as unknown as Logger;
}
