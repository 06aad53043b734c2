/**
 * The attribute matching rules of C-FIND (PS3.4 C.2.2.2) applied to worklist items. Pure functions
 * over decoded text, so they are tested without a socket and usable by any `WorklistSource`.
 */
import type { ValueRange, WorklistItem, WorklistQuery } from "../types.ts";

/**
 * PS3.4 C.2.2.2.4 wildcard matching: `*` matches any sequence of characters (including none), `?`
 * exactly one. Leading and trailing spaces are insignificant (PS3.5 6.2). PN matching is
 * case-insensitive (PS3.4 C.2.2.2.4 allows it and modality operators type names in any case); the
 * other VRs are matched case-sensitively.
 */
export function matchesWildcard(pattern: string, value: string, caseInsensitive = false): boolean {
  let p = pattern.trim();
  let v = value.trim();
  if (caseInsensitive) {
    p = p.toLowerCase();
    v = v.toLowerCase();
  }
  if (!p.includes("*") && !p.includes("?")) return p === v;
  // Iterate by code point so `?` stands for one Chinese character, not one UTF-16 unit.
  const pc = [...p];
  const vc = [...v];
  let i = 0;
  let j = 0;
  let star = -1;
  let mark = 0;
  while (j < vc.length) {
    if (i < pc.length && (pc[i] === "?" || pc[i] === vc[j])) {
      i += 1;
      j += 1;
    } else if (i < pc.length && pc[i] === "*") {
      star = i;
      mark = j;
      i += 1;
    } else if (star >= 0) {
      i = star + 1;
      mark += 1;
      j = mark;
    } else {
      return false;
    }
  }
  while (i < pc.length && pc[i] === "*") i += 1;
  return i === pc.length;
}

/**
 * PN matching: a query of one component group (`张*`, `ZHANG^SAN`) matches when any group of the
 * name matches it, so a query typed in either script finds `Zhang^San=张^三`; a query with several
 * groups must match the whole value.
 */
export function matchesPersonName(pattern: string, name: string): boolean {
  if (pattern.includes("=")) return matchesWildcard(stripEmptyGroups(pattern), stripEmptyGroups(name), true);
  return name.split("=").some((group) => matchesWildcard(pattern, group, true));
}

function stripEmptyGroups(pn: string): string {
  return pn.replace(/=+$/, "");
}

/**
 * PS3.4 C.2.2.2.5 range matching of DA (YYYYMMDD) or TM (HHMMSS[.F]) values: inclusive, either end
 * open. Compared as strings of equal precision, which orders them correctly. An empty value never
 * matches a range (it is not within it).
 */
export function matchesRange(range: ValueRange, value: string): boolean {
  const v = value.trim().replace(/\.\d*$/, "");
  if (v === "") return false;
  const width = (bound: string) => v.slice(0, bound.length).padEnd(bound.length, "0");
  if (range.from && width(range.from) < range.from) return false;
  if (range.to && width(range.to) > range.to) return false;
  return true;
}

/**
 * Parse a DA or TM query value into a range: `A` (single value), `A-`, `-B`, `A-B` (PS3.4
 * C.2.2.2.5). TM values drop colons (ACR-NEMA style `HH:MM`) and fractions of a second; a TM of
 * lower precision (`10`, `1030`) stands for its whole hour or minute. Returns undefined for an empty value (universal matching), throws on an unparseable one.
 */
export function parseRange(text: string, vr: "DA" | "TM"): ValueRange | undefined {
  const raw = text.trim();
  if (raw === "" || raw === "*") return undefined;
  const normalise = (part: string) =>
    vr === "TM" ? part.replaceAll(":", "").replace(/\.\d*$/, "") : part.replaceAll(".", "");
  const valid = vr === "DA" ? /^\d{8}$/ : /^\d{2}(\d{2}(\d{2})?)?$/;
  const check = (part: string) => {
    const value = normalise(part.trim());
    if (!valid.test(value)) throw new RangeError(`not a ${vr} value: ${JSON.stringify(part)}`);
    return value;
  };
  const dash = raw.indexOf("-");
  if (dash < 0) {
    const single = check(raw);
    return { from: single, to: single };
  }
  const from = raw.slice(0, dash).trim();
  const to = raw.slice(dash + 1).trim();
  if (from === "" && to === "") throw new RangeError(`not a ${vr} range: ${JSON.stringify(text)}`);
  const range: ValueRange = {};
  if (from) range.from = check(from);
  if (to) range.to = check(to);
  return range;
}

/** Whether an item satisfies every match key of the query (keys combine with AND, PS3.4 C.2.2.2). */
export function matchesWorklistQuery(item: WorklistItem, query: WorklistQuery): boolean {
  const text = (pattern: string | undefined, value: string) =>
    pattern === undefined || isUniversal(pattern) || matchesWildcard(pattern, value);
  const single = (pattern: string | undefined, value: string) =>
    pattern === undefined || pattern.trim() === "" || pattern.trim() === value.trim();
  return (
    (query.patientName === undefined ||
      isUniversal(query.patientName) ||
      matchesPersonName(query.patientName, item.patientName)) &&
    text(query.patientId, item.patientId) &&
    text(query.accessionNumber, item.accessionNumber) &&
    text(query.modality, item.modality) &&
    text(query.scheduledStationAeTitle, item.scheduledStationAeTitle) &&
    text(query.scheduledProcedureStepId, item.scheduledProcedureStepId) &&
    text(query.requestedProcedureId, item.requestedProcedureId) &&
    // PS3.4 C.2.2.2.2: UIDs use single value (or list of UID) matching, never wildcards.
    (query.studyInstanceUid === undefined ||
      query.studyInstanceUid.split("\\").some((uid) => single(uid, item.studyInstanceUid))) &&
    (query.scheduledProcedureStepStartDate === undefined ||
      matchesRange(query.scheduledProcedureStepStartDate, item.scheduledProcedureStepStartDate)) &&
    (query.scheduledProcedureStepStartTime === undefined ||
      matchesRange(query.scheduledProcedureStepStartTime, item.scheduledProcedureStepStartTime))
  );
}

/** An empty value, or one made only of `*`, matches everything (PS3.4 C.2.2.2.3, C.2.2.2.4). */
function isUniversal(pattern: string): boolean {
  return /^\**$/.test(pattern.trim());
}
