import assert from "node:assert/strict";
import { test } from "node:test";
import type { WorklistItem } from "../types.ts";
import {
  matchesPersonName,
  matchesRange,
  matchesWildcard,
  matchesWorklistQuery,
  parseRange,
} from "./worklist-matching.ts";

const item: WorklistItem = {
  patientName: "Zhang^San=张^三",
  patientId: "P-0042",
  patientBirthDate: "19700315",
  patientSex: "M",
  accessionNumber: "A2611250001",
  referringPhysicianName: "",
  requestedProcedureId: "RP2611250001",
  requestedProcedureDescription: "腹部超声",
  studyInstanceUid: "2.25.1234",
  modality: "US",
  scheduledStationAeTitle: "US1",
  scheduledProcedureStepStartDate: "20261125",
  scheduledProcedureStepStartTime: "093000",
  scheduledProcedureStepId: "SPS2611250001",
  scheduledProcedureStepDescription: "腹部超声",
};

test("wildcards: * is any run, ? one character (a Chinese character is one)", () => {
  assert.ok(matchesWildcard("P-*", "P-0042"));
  assert.ok(matchesWildcard("*42", "P-0042"));
  assert.ok(matchesWildcard("P-00?2", "P-0042"));
  assert.ok(!matchesWildcard("P-0?2", "P-0042"));
  assert.ok(matchesWildcard("张^?", "张^三"));
  assert.ok(matchesWildcard("*", ""));
  assert.ok(matchesWildcard("P-0042 ", "P-0042"), "trailing spaces are insignificant");
  assert.ok(!matchesWildcard("p-0042", "P-0042"), "LO matching is case-sensitive");
  assert.ok(matchesWildcard("a*b*c", "axxbyyc"));
  assert.ok(!matchesWildcard("a*b*c", "axxbyy"));
});

test("PN matching is case-insensitive and a one-group query matches any group", () => {
  assert.ok(matchesPersonName("zhang*", "Zhang^San=张^三"));
  assert.ok(matchesPersonName("张*", "Zhang^San=张^三"));
  assert.ok(matchesPersonName("ZHANG^SAN", "Zhang^San=张^三"));
  assert.ok(!matchesPersonName("李*", "Zhang^San=张^三"));
  assert.ok(matchesPersonName("Zhang^San=张^三", "Zhang^San=张^三"));
});

test("DA and TM ranges (PS3.4 C.2.2.2.5)", () => {
  assert.deepEqual(parseRange("20261125", "DA"), { from: "20261125", to: "20261125" });
  assert.deepEqual(parseRange("20261101-", "DA"), { from: "20261101" });
  assert.deepEqual(parseRange("-20261130 ", "DA"), { to: "20261130" });
  assert.equal(parseRange("", "DA"), undefined);
  assert.throws(() => parseRange("2026-11-25", "DA"), RangeError);
  assert.throws(() => parseRange("-", "DA"), RangeError);
  assert.deepEqual(parseRange("09:00-10:30", "TM"), { from: "0900", to: "1030" });
  assert.ok(matchesRange({ from: "20261101", to: "20261130" }, "20261125"));
  assert.ok(!matchesRange({ from: "20261126" }, "20261125"));
  assert.ok(!matchesRange({ to: "20261124" }, "20261125"));
  assert.ok(!matchesRange({ from: "20261101" }, ""), "an empty value is in no range");
  // A bound of lower precision covers its whole hour or minute.
  assert.ok(matchesRange(parseRange("09", "TM")!, "093000"));
  assert.ok(matchesRange(parseRange("0800-0930", "TM")!, "093059.5"));
  assert.ok(!matchesRange(parseRange("0800-0929", "TM")!, "093000"));
});

test("a query combines its keys with AND; absent or empty keys match everything", () => {
  assert.ok(matchesWorklistQuery(item, {}));
  assert.ok(matchesWorklistQuery(item, { modality: "US", patientName: "张*" }));
  assert.ok(!matchesWorklistQuery(item, { modality: "DX", patientName: "张*" }));
  assert.ok(
    matchesWorklistQuery(item, { scheduledProcedureStepStartDate: { from: "20261125", to: "20261125" } }),
  );
  assert.ok(!matchesWorklistQuery(item, { scheduledProcedureStepStartDate: { from: "20261126" } }));
  assert.ok(matchesWorklistQuery(item, { scheduledStationAeTitle: "US*", accessionNumber: "A2611250001" }));
  assert.ok(!matchesWorklistQuery(item, { scheduledStationAeTitle: "DR1" }));
  assert.ok(matchesWorklistQuery(item, { patientId: "*" }));
  assert.ok(matchesWorklistQuery(item, { studyInstanceUid: "1.2.3\\2.25.1234" }), "list of UIDs");
  assert.ok(!matchesWorklistQuery(item, { studyInstanceUid: "2.25.*" }), "no wildcards in UIDs");
});
