/**
 * The reading centre's error codes (the README points here). Each is stable, carries the HTTP
 * status the API answers with, and says what it means; `rcError` builds the coded error.
 */
import { DxgateError } from "../common/errors.ts";

export const RC_ERRORS = {
  /** No, unknown or expired bearer token: log in (again). */
  AUTH_REQUIRED: 401,
  /** Wrong username or password at login. */
  AUTH_INVALID: 401,
  /** Not in demo mode but an account still has the password "demo": set a real one (add-user). */
  DEFAULT_PASSWORD: 500,
  /** add-user: the username or the new password is not acceptable. */
  USER_INVALID: 400,
  /** A request field is missing or of the wrong type; `details.field` names it. */
  FIELD_INVALID: 400,
  STUDY_NOT_FOUND: 404,
  /** Two sites sent a study with this UID: add `?siteId=`. */
  STUDY_AMBIGUOUS: 409,
  /** Another diagnostician has claimed the study; `details.claimedBy` says who. */
  STUDY_CLAIMED: 409,
  /** The study already has a report (amendments are not supported yet). */
  STUDY_REPORTED: 409,
  INSTANCE_NOT_FOUND: 404,
  /** Two sites sent different instances with this UID: add `?siteId=`. */
  INSTANCE_AMBIGUOUS: 409,
  /** The index lists the instance but its file cannot be read: the store needs repair. */
  INSTANCE_FILE_MISSING: 500,
  /** The study (or the arriving study) has no preview with this id. */
  PREVIEW_NOT_FOUND: 404,
  /** The preview is indexed but its file cannot be read: the store needs repair (the box's next send restores it). */
  PREVIEW_FILE_MISSING: 500,
  /** The embedded MQTT broker cannot listen (port in use, address not local). */
  BROKER_START_FAILED: 500,
  /** Bad command line. */
  USAGE: 400,
} as const;

export type RcErrorCode = keyof typeof RC_ERRORS;

export function rcError(code: RcErrorCode, message: string, details?: Record<string, unknown>): DxgateError {
  return new DxgateError(code, message, RC_ERRORS[code], details);
}

/** Commit-ack error codes, sent to the box in `commit-ack.error.code`. */
export const COMMIT_ERRORS = {
  /** Some instances are missing or failed SHA-256 verification; `missing` lists them. Resend those. */
  INCOMPLETE: "INCOMPLETE",
  /** No manifest is known for this transfer (never received, or abandoned and swept): start anew. */
  UNKNOWN_TRANSFER: "UNKNOWN_TRANSFER",
  /** The commit names a different study than its manifest. */
  COMMIT_MISMATCH: "COMMIT_MISMATCH",
} as const;
