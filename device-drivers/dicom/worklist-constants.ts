/**
 * Identifiers and statuses of the Modality Worklist service (kept apart from ./constants.ts, which
 * holds the storage service's).
 */

/** PS3.4 K.6.1.2 / PS3.6 Annex A: Modality Worklist Information Model – FIND SOP Class. */
export const MODALITY_WORKLIST_FIND = "1.2.840.10008.5.1.4.31";

/** C-FIND statuses (PS3.4 Table C.4-1 via K.4.1.1.4, and PS3.7 Annex C). */
export const WORKLIST_STATUS = {
  success: 0x0000,
  /** Pending: a match, with all requested optional keys supported. */
  pending: 0xff00,
  /** Pending: a match, but one or more requested optional keys were not supported. */
  pendingWarning: 0xff01,
  /** Cancel: matching terminated due to a C-CANCEL. */
  cancel: 0xfe00,
  /** PS3.7 C.5.4: Refused, SOP Class not supported. */
  sopClassNotSupported: 0x0122,
  /** Failed: Identifier does not match SOP Class. */
  identifierDoesNotMatchSopClass: 0xa900,
  /** Failed: Unable to process (Cxxx). */
  unableToProcess: 0xc000,
} as const;
