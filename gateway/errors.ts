/**
 * The gateway's error codes (the README's error table lists them for field staff). Each is stable and
 * carries the HTTP status the API answers with; codes that reach a modality are mapped to a DIMSE
 * status by the DICOM driver (retryable refusals become A700 Out of Resources).
 */
import { DxgateError } from "../common/errors.ts";

export const GATEWAY_ERRORS = {
  /** The instance lacks a valid Study or SOP Instance UID: the modality's export is at fault. */
  INSTANCE_INVALID: 400,
  /** The spool's disk is full or failing: free space; the modality may retry. */
  SPOOL_OUT_OF_RESOURCES: 507,
  /** The spool write failed for another reason: check the disk and the log. */
  SPOOL_WRITE_FAILED: 500,
  /** No such study at this box. */
  STUDY_NOT_FOUND: 404,
  /** POST /api/registrations: a field is missing or invalid; `details.field` names it. */
  REGISTRATION_INVALID: 400,
  /** POST /api/registrations: an open registration already has this accession number. */
  ACCESSION_NUMBER_IN_USE: 409,
  /** No such registration at this box. */
  REGISTRATION_NOT_FOUND: 404,
  /** No import job with that id (jobs are kept in memory, the last 100, until a restart). */
  IMPORT_NOT_FOUND: 404,
  /** The study holds no ECG to draw (GET /api/studies/:uid/ecg.svg|png). */
  ECG_NOT_FOUND: 404,
  /** The study's ECG file could not be read back for drawing (damaged spool file; see the log). */
  ECG_UNREADABLE: 500,
  /** No study at this box has a report with that id (GET /api/reports/:id/print). */
  REPORT_NOT_FOUND: 404,
  /** A query parameter has a value the endpoint does not take; `details.field` names it. */
  QUERY_INVALID: 400,
} as const;

export type GatewayErrorCode = keyof typeof GATEWAY_ERRORS;

export function gatewayError(
  code: GatewayErrorCode,
  message: string,
  details?: Record<string, unknown>,
): DxgateError {
  return new DxgateError(code, message, GATEWAY_ERRORS[code], details);
}
