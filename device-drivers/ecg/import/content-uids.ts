/**
 * UIDs that follow from an ECG's source bytes (an SCP-ECG record, an exported file): the same bytes
 * arriving twice — a cart re-sending a record, a stick read again after the import ledger was lost —
 * become the same Study, Series and SOP Instance UIDs, so the spool replaces the instance instead
 * of filing a second study (derivedUid: 2.25 and a version 8 UUID from a SHA-256).
 */
import { createHash } from "node:crypto";
import { derivedUid } from "../dicom/index.ts";

export interface ContentUids {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
}

export function contentUids(sourceSha256: string): ContentUids {
  return {
    studyInstanceUid: derivedUid(sourceSha256, "study"),
    seriesInstanceUid: derivedUid(sourceSha256, "series"),
    sopInstanceUid: derivedUid(sourceSha256, "sop"),
  };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
