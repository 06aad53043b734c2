import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ageInYears,
  formatAge,
  formatDicomDate,
  formatDicomTime,
  formatPersonName,
  formatSex,
} from "./display-format.ts";

test("a DICOM person name reads as one name: CJK without spaces, the ideographic group for Chinese readers", () => {
  assert.equal(formatPersonName("王^小东", "zh"), "王小东");
  assert.equal(formatPersonName("Wang^XiaoDong=王^小东", "zh"), "王小东");
  assert.equal(formatPersonName("Wang^XiaoDong=王^小东", "en"), "Wang XiaoDong");
  assert.equal(formatPersonName("=王^小东", "en"), "王小东");
  assert.equal(formatPersonName("Clark^Ann^^^", "en"), "Clark Ann");
  assert.equal(formatPersonName("^^", "zh"), "");
  assert.equal(formatPersonName(undefined, "zh"), "");
});

test("sex codes, ages and dates in the reader's language; odd values shown as they came", () => {
  assert.equal(formatSex("F", "zh"), "女");
  assert.equal(formatSex("m", "en"), "Male");
  assert.equal(formatSex("X", "zh"), "X");
  assert.equal(formatAge("045Y", "zh"), "45岁");
  assert.equal(formatAge("006M", "zh"), "6个月");
  assert.equal(formatAge("045Y", "en"), "45 y");
  assert.equal(formatAge("about 40", "en"), "about 40");
  assert.equal(formatDicomDate("20240518"), "2024-05-18");
  assert.equal(formatDicomDate("1998.01.01"), "1998-01-01");
  assert.equal(formatDicomDate("1998-1-1"), "1998-1-1");
  assert.equal(formatDicomTime("093015"), "09:30:15");
  assert.equal(formatDicomTime("093015.123"), "09:30:15");
  assert.equal(formatDicomTime("0930"), "09:30");
  assert.equal(formatDicomTime("09:30:15"), "09:30:15");
});

test("an age follows from the birth date when the record gives none, counting whole years", () => {
  assert.equal(ageInYears("19720304", "20240518"), 52);
  assert.equal(ageInYears("19720519", "20240518"), 51);
  assert.equal(ageInYears("19720518", "20240518"), 52);
  assert.equal(ageInYears("1972", "20240518"), undefined);
  assert.equal(ageInYears("20250101", "20240518"), undefined);
});
