/**
 * The uploader's error codes. A failed attempt is reported to the queue as "CODE: message" so the
 * technician page and field staff see why a study is stuck; messages carry UIDs and sizes, never
 * patient data.
 */
import { DxgateError } from "../common/errors.ts";
import { ProtocolError } from "./protocol/index.ts";

export const UPLOAD_ERRORS = {
  /** The broker connection dropped (or changed) before the commit was acknowledged by the broker. */
  connectionLost: "UPLOAD_CONNECTION_LOST",
  /** A file on the box does not have the size its descriptor states. */
  sizeMismatch: "UPLOAD_SIZE_MISMATCH",
  /** A file's bytes do not hash to its descriptor's SHA-256 (changed or corrupt on the box). */
  hashMismatch: "UPLOAD_HASH_MISMATCH",
  /** A file could not be opened or read. */
  fileUnreadable: "UPLOAD_FILE_UNREADABLE",
  /** The study cannot be sent as a valid v1 manifest (no instances, too many, duplicates, bad fields). */
  invalidStudy: "UPLOAD_INVALID_STUDY",
  /** No commit-ack for this transfer within ackTimeoutMs. */
  ackTimeout: "UPLOAD_ACK_TIMEOUT",
  /** The reading centre answered status "error" or listed missing instances. */
  rejected: "UPLOAD_REJECTED",
  /** The broker lost the box's session while it waited for the commit-ack, so the ack cannot come. */
  sessionLost: "UPLOAD_SESSION_LOST",
  /** The uploader is stopping; the study stays queued. */
  stopped: "UPLOAD_STOPPED",
  /** The queue could not record the outcome. */
  queueFailed: "UPLOAD_QUEUE_FAILED",
  /**
   * The reading centre refused the manifest (manifest-ack status "error": quota, unknown box, bad
   * signature). `details.retryAfterMs` (when the county gave one) is the least the sender waits.
   */
  refused: "UPLOAD_REFUSED",
  /** The reading centre's manifest-ack breaks the protocol (a chunk size it may not ask for, a bad range). */
  badManifestAck: "UPLOAD_BAD_MANIFEST_ACK",
  /**
   * A study of higher priority took the uplink at a chunk boundary: the attempt drained its window
   * and ended. Not a failure (no backoff); the next attempt resumes from what the county holds.
   */
  preempted: "UPLOAD_PREEMPTED",
} as const;

export function uploadError(code: string, message: string, details?: Record<string, unknown>): DxgateError {
  return new DxgateError(code, message, 500, details);
}

/** A code and message for any thrown value, for logs and for `queue.failed(reason)`. */
export function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof DxgateError || error instanceof ProtocolError) {
    return { code: error.code, message: error.message };
  }
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { code: typeof code === "string" ? code : "UPLOAD_INTERNAL", message: error.message };
  }
  return { code: "UPLOAD_INTERNAL", message: String(error) };
}
