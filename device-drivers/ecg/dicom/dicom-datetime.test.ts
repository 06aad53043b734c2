import assert from "node:assert/strict";
import test from "node:test";
import { formatUtcOffset, isDicomDate, isDicomTime, localDateTime, splitDateTime } from "./dicom-datetime.ts";

test("local date and time in the box's zone, across midnight", () => {
  assert.deepEqual(localDateTime(new Date("2025-03-13T17:30:05Z"), 480), {
    date: "20250314",
    time: "013005",
  });
  assert.deepEqual(localDateTime(new Date("2025-03-14T01:31:00Z"), -300), {
    date: "20250313",
    time: "203100",
  });
});

test("UTC offsets as DICOM writes them", () => {
  assert.deepEqual([480, 0, -300, 345].map(formatUtcOffset), ["+0800", "+0000", "-0500", "+0545"]);
});

test("DA and TM validation", () => {
  assert.ok(isDicomDate("20240229"));
  assert.ok(!isDicomDate("20230229"));
  assert.ok(!isDicomDate("2024-02-29"));
  assert.ok(isDicomTime("235959.123456"));
  assert.ok(isDicomTime("0930"));
  assert.ok(!isDicomTime("246000"));
  assert.ok(!isDicomTime("09:30"));
});

test("DT split into DA and TM, with or without fraction and offset", () => {
  assert.deepEqual(splitDateTime("20130125105919"), { date: "20130125", time: "105919" });
  assert.deepEqual(splitDateTime("20130125105919.5+0100"), { date: "20130125", time: "105919.5" });
  assert.deepEqual(splitDateTime("20130125"), { date: "20130125" });
  assert.deepEqual(splitDateTime("garbage"), {});
});
