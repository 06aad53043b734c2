/**
 * What can go wrong turning an EcgRecord into a DICOM ECG or a DICOM ECG into an EcgRecord, as
 * stable codes staff can look up. Messages say what is wrong (which lead, which attribute, which
 * limit); they never quote patient data.
 */
import { DxgateError } from "../../../common/errors.ts";

export const DICOM_ECG_ERROR_CODES = {
  /** The record contradicts itself: no leads, leads of different lengths, a unit size that is not a positive number, … */
  invalidRecord: "DICOM_ECG_INVALID_RECORD",
  /** A caller-supplied context value that cannot be written (a malformed UID, date, sex or time zone offset). */
  invalidContext: "DICOM_ECG_INVALID_CONTEXT",
  /** A valid record no ECG waveform IOD can hold without losing data (too many leads or groups). */
  unrepresentable: "DICOM_ECG_UNREPRESENTABLE",
  /** The bytes are not a DICOM Part 10 file dcmjs can parse (no "DICM", truncated, broken encoding). */
  notDicom: "DICOM_ECG_NOT_DICOM",
  /** A DICOM file, but not an ECG waveform: no Waveform Sequence, or no group with ECG channels. */
  notEcg: "DICOM_ECG_NOT_ECG",
  /** An ECG waveform this reader cannot decode (a sample interpretation other than SS/SB, a data length that does not match, …). */
  unsupported: "DICOM_ECG_UNSUPPORTED",
} as const;

export type DicomEcgErrorCode = (typeof DICOM_ECG_ERROR_CODES)[keyof typeof DICOM_ECG_ERROR_CODES];

export class DicomEcgError extends DxgateError {
  constructor(code: DicomEcgErrorCode, message: string, details?: Record<string, unknown>) {
    // 422: the input (a record, a file) was understood but its content cannot be used.
    super(code, message, 422, details);
    this.name = "DicomEcgError";
  }
}
