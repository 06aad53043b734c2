/**
 * Lead names as files and devices spell them ("i", "AVR", "V1 ", "lead II", PTB's Frank "vx") to
 * the spelling EcgRecord uses ("I", "aVR", "V1", "X"). Names we do not know stay as they were, trimmed.
 */
import { type LeadName, STANDARD_12_LEADS } from "../ecg-record.ts";

const BY_LOWER_CASE = new Map<string, LeadName>([
  ...STANDARD_12_LEADS.map((name) => [name.toLowerCase(), name] as const),
  // Frank orthogonal leads (PTB's .xyz signals).
  ["vx", "X"],
  ["vy", "Y"],
  ["vz", "Z"],
  ["x", "X"],
  ["y", "Y"],
  ["z", "Z"],
]);

export function normaliseLeadName(raw: string): LeadName {
  const trimmed = raw.trim();
  const bare = trimmed.replace(/^lead[\s_-]*/i, "");
  const known = BY_LOWER_CASE.get(bare.toLowerCase());
  if (known) return known;
  // V7, V3R, V4R, …: upper-case V and R, whatever the file wrote.
  if (/^v\d{1,2}r?$/i.test(bare)) return bare.toUpperCase();
  return trimmed;
}
