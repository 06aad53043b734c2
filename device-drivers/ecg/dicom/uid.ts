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
 * A UID that follows from another one and a purpose (e.g. the median-beat instance of a given
 * 12-lead instance): the same inputs always give the same UID, so writing the same record twice
 * replaces its instances instead of adding new ones. 2.25 + the first 128 bits of a SHA-256.
 */
export function derivedUid(from: string, purpose: string): string {
  const digest = createHash("sha256").update(`${purpose}\u0000${from}`).digest("hex").slice(0, 32);
  return `2.25.${BigInt(`0x${digest}`).toString()}`;
}
