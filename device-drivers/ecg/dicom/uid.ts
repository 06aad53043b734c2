/**
 * UIDs the box makes up for the ECGs it writes: PS3.5 B.2, the 2.25 root followed by a UUID as one
 * decimal integer. A random (version 4) UUID needs no registered root and no coordination between
 * boxes; 2.25. plus at most 39 digits stays within the 64-character limit of UI.
 */
import { randomUUID } from "node:crypto";

export function newUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replaceAll("-", "")}`).toString()}`;
}

/** PS3.5 9.1: components of digits separated by ".", no leading zero in a multi-digit component, ≤ 64 characters. */
export function isValidUid(uid: string): boolean {
  return uid.length <= 64 && /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/.test(uid);
}
