/**
 * UIDs the box makes up for the ECGs it writes: PS3.5 B.2, the 2.25 root followed by a UUID as one
 * decimal integer. A random (version 4) UUID needs no registered root and no coordination between
 * boxes; 2.25. plus at most 39 digits stays within the 64-character limit of UI.
 */
import { createHash, randomUUID } from "node:crypto";

export function newUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replaceAll("-", "")}`).toString()}`;
}

/** PS3.5 9.1: components of digits separated by ".", no leading zero in a multi-digit component, ≤ 64 characters. */
export function isValidUid(uid: string): boolean {
  return uid.length <= 64 && /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/.test(uid);
}

/**
 * A UID that follows from a value and a purpose (an ECG's source SHA-256 and "study"/"series"/"sop",
 * or a 12-lead instance's UID and "median-beats"): the same inputs always give the same UID, so
 * writing the same record twice replaces its instances instead of adding new ones. PS3.5 B.2: 2.25
 * and an RFC 9562 version 8 (application-defined) UUID made of the first 122 bits of
 * SHA-256("dxgate-ecg" | purpose | value).
 */
export function derivedUid(from: string, purpose: string): string {
  const bytes = createHash("sha256").update(`dxgate-ecg|${purpose}|${from}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80; // version 8
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // variant 10
  return `2.25.${BigInt(`0x${bytes.toString("hex")}`).toString()}`;
}
