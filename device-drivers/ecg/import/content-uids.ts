/**
 * UIDs that follow from an ECG's source bytes (an SCP-ECG record, an exported file): the same bytes
 * arriving twice — a cart re-sending a record, a stick read again after the import ledger was lost —
 * become the same Study, Series and SOP Instance UIDs, so the spool replaces the instance instead
 * of filing a second study. PS3.5 B.2: 2.25 followed by a UUID as one decimal integer; here an
 * RFC 9562 version 8 (application-defined) UUID made of the first 122 bits of
 * SHA-256("dxgate-ecg" | role | source SHA-256).
 */
import { createHash } from "node:crypto";

export interface ContentUids {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
}

export function contentUids(sourceSha256: string): ContentUids {
  return {
    studyInstanceUid: uidFor("study", sourceSha256),
    seriesInstanceUid: uidFor("series", sourceSha256),
    sopInstanceUid: uidFor("sop", sourceSha256),
  };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function uidFor(role: string, sourceSha256: string): string {
  const bytes = createHash("sha256").update(`dxgate-ecg|${role}|${sourceSha256}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80; // version 8
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // variant 10
  return `2.25.${BigInt(`0x${bytes.toString("hex")}`).toString()}`;
}
