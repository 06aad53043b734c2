/**
 * What can be wrong with an SCP-ECG record, as stable codes staff can look up. Messages say what is
 * wrong with the bytes (which section, which field, what was expected); they never quote patient data.
 */
import { DxgateError } from "../../../common/errors.ts";

export const SCP_ERROR_CODES = {
  /** The bytes are not an SCP-ECG record at all (no section 0 with the "SCPECG" marker). */
  notScp: "SCP_NOT_SCP",
  /** The record (or a section, or a field) ends before its stated length. */
  truncated: "SCP_TRUNCATED",
  /** The record CRC or a section CRC does not match the bytes. */
  badCrc: "SCP_BAD_CRC",
  /** The CRCs match but the structure contradicts itself (pointers outside the record, lead counts, …). */
  malformed: "SCP_MALFORMED",
  /** Valid SCP-ECG using something this decoder cannot decode (no rhythm data, an exotic compression, …). */
  unsupported: "SCP_UNSUPPORTED",
  /** The encoder cannot represent the record within SCP-ECG's field limits. */
  cannotEncode: "SCP_CANNOT_ENCODE",
} as const;

export type ScpErrorCode = (typeof SCP_ERROR_CODES)[keyof typeof SCP_ERROR_CODES];

export class ScpEcgError extends DxgateError {
  constructor(code: ScpErrorCode, message: string, details?: Record<string, unknown>) {
    // 422: the request (a file, a record on the line) was understood but its content cannot be used.
    super(code, message, 422, details);
    this.name = "ScpEcgError";
  }
}
