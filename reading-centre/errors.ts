/**
 * The reading centre's error codes. Each is stable (the README's error table lists them) and carries
 * the HTTP status the API answers with; `rcError` builds the coded error.
 */
import { DxgateError } from "../common/errors.ts";

export const RC_ERRORS = {
  AUTH_REQUIRED: 401,
  AUTH_INVALID: 401,
  DEFAULT_PASSWORD: 500,
  USER_INVALID: 400,
  FIELD_INVALID: 400,
  STUDY_NOT_FOUND: 404,
  STUDY_AMBIGUOUS: 409,
  STUDY_CLAIMED: 409,
  STUDY_REPORTED: 409,
  INSTANCE_NOT_FOUND: 404,
  INSTANCE_AMBIGUOUS: 409,
  INSTANCE_FILE_MISSING: 500,
  BROKER_START_FAILED: 500,
  USAGE: 400,
} as const;

export type RcErrorCode = keyof typeof RC_ERRORS;

export function rcError(code: RcErrorCode, message: string, details?: Record<string, unknown>): DxgateError {
  return new DxgateError(code, message, RC_ERRORS[code], details);
}

/** Commit-ack error codes, sent to the box in `commit-ack.error.code`. */
export const COMMIT_ERRORS = {
  INCOMPLETE: "INCOMPLETE",
  UNKNOWN_TRANSFER: "UNKNOWN_TRANSFER",
  COMMIT_MISMATCH: "COMMIT_MISMATCH",
} as const;
