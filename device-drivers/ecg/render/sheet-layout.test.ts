import assert from "node:assert/strict";
import { test } from "node:test";
import type { EcgLead, EcgWaveform } from "../ecg-record.ts";
import { layoutSheet, SHEET_GEOMETRY, sheetLeadOrder } from "./sheet-layout.ts";

const leads = (names: string[], length = 5000): EcgLead[] =>
  names.map((name) => ({ name, samples: new Int32Array(length), nanovoltsPerUnit: 2500 }));
const twelve = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"];
const settings = { speedMmPerS: 25, startSeconds: 0 };

test("12 leads: 3 rows × 4 columns of 2.5 s (I–III, aVR–aVF, V1–V3, V4–V6) and a 10 s lead II rhythm strip", () => {
  const waveform: EcgWaveform = { samplingFrequencyHz: 500, leads: leads(twelve) };
  const layout = layoutSheet(waveform, settings);
  assert.equal(layout.columnCount, 4);
  assert.deepEqual(layout.rowBaselinesMm, [60, 100, 140, 180]);
  const at = (row: number, column: number) =>
    layout.segments.find((s) => s.row === row && s.column === column && !s.rhythm)?.lead.name;
  assert.deepEqual(
    [0, 1, 2, 3].map((column) => [0, 1, 2].map((row) => at(row, column))),
    [
      ["I", "II", "III"],
      ["aVR", "aVL", "aVF"],
      ["V1", "V2", "V3"],
      ["V4", "V5", "V6"],
    ],
  );
  const v4 = layout.segments.find((s) => s.lead.name === "V4")!;
  assert.equal(v4.xMm, SHEET_GEOMETRY.gridXMm + SHEET_GEOMETRY.calibrationZoneMm + 3 * 62.5);
  assert.equal(v4.widthMm, 62.5);
  assert.deepEqual([v4.firstSample, v4.endSample], [3750, 5000]);
  const rhythm = layout.segments.filter((s) => s.rhythm);
  assert.equal(rhythm.length, 1);
  assert.equal(rhythm[0]!.lead.name, "II");
  assert.equal(rhythm[0]!.widthMm, 250);
  assert.deepEqual([rhythm[0]!.firstSample, rhythm[0]!.endSample], [0, 5000]);
});

test("leads in any order are laid out in standard order, others after in their own order", () => {
  const ordered = sheetLeadOrder(leads(["V2", "X", "I", "V1", "II", "Y"], 1));
  assert.deepEqual(
    ordered.map((l) => l.name),
    ["I", "II", "V1", "V2", "X", "Y"],
  );
});

test("15 leads make 5 columns of 2 s; 1–3 leads each get a full-width strip and no separate rhythm strip", () => {
  const fifteen = layoutSheet(
    { samplingFrequencyHz: 1000, leads: leads([...twelve, "V7", "V8", "V9"], 10000) },
    settings,
  );
  assert.equal(fifteen.columnCount, 5);
  assert.deepEqual(
    fifteen.segments.filter((s) => s.column === 4 && !s.rhythm).map((s) => s.lead.name),
    ["V7", "V8", "V9"],
  );
  assert.equal(fifteen.segments.find((s) => s.lead.name === "V7")!.widthMm, 50);
  const one = layoutSheet({ samplingFrequencyHz: 500, leads: leads(["II"]) }, settings);
  assert.equal(one.segments.length, 1);
  assert.equal(one.segments[0]!.widthMm, 250);
  assert.equal(one.rowBaselinesMm.length, 1);
});

test("more than 18 leads add rows, squeezed to fit the grid", () => {
  const names = Array.from({ length: 24 }, (_, i) => `L${i}`);
  const layout = layoutSheet({ samplingFrequencyHz: 500, leads: leads(names) }, settings);
  assert.equal(layout.columnCount, 6);
  assert.equal(layout.rowBaselinesMm.length, 5);
  assert.equal(layout.rowPitchMm, 32);
  const bottom = SHEET_GEOMETRY.gridYMm + SHEET_GEOMETRY.gridHeightMm;
  assert.ok(layout.rowBaselinesMm.every((y) => y < bottom));
});

test("50 mm/s shows 5 s; a short record is spread over the columns; a long one shows a window from the start asked", () => {
  const waveform: EcgWaveform = { samplingFrequencyHz: 500, leads: leads(twelve) };
  const fast = layoutSheet(waveform, { speedMmPerS: 50, startSeconds: 0 });
  assert.equal(fast.shownToSeconds, 5);
  assert.equal(fast.segments.find((s) => s.lead.name === "aVR")!.startSeconds, 1.25);
  const short = layoutSheet({ samplingFrequencyHz: 500, leads: leads(twelve, 2000) }, settings);
  assert.equal(short.shownToSeconds, 4);
  assert.equal(short.segments.find((s) => s.lead.name === "V4")!.firstSample, 1500);
  assert.equal(short.segments.find((s) => s.lead.name === "V4")!.widthMm, 25);
  const long = layoutSheet(
    { samplingFrequencyHz: 500, leads: leads(twelve, 20000) },
    { ...settings, startSeconds: 12 },
  );
  assert.deepEqual([long.shownFromSeconds, long.shownToSeconds, long.recordSeconds], [12, 22, 40]);
  assert.equal(long.segments.find((s) => s.lead.name === "I")!.firstSample, 6000);
});

test("nothing to lay out: no leads, or a start past the end", () => {
  assert.equal(layoutSheet({ samplingFrequencyHz: 500, leads: [] }, settings).segments.length, 0);
  const past = layoutSheet(
    { samplingFrequencyHz: 500, leads: leads(twelve) },
    { ...settings, startSeconds: 10 },
  );
  assert.equal(past.segments.length, 0);
});

test("the rhythm strip takes the lead asked for, or the first lead when there is no lead II", () => {
  const waveform: EcgWaveform = { samplingFrequencyHz: 500, leads: leads(twelve) };
  const v5 = layoutSheet(waveform, { ...settings, rhythmLead: "V5" });
  assert.equal(v5.segments.find((s) => s.rhythm)!.lead.name, "V5");
  const noII = layoutSheet({ samplingFrequencyHz: 500, leads: leads(["V1", "V2", "V3", "V4"]) }, settings);
  assert.equal(noII.segments.find((s) => s.rhythm)!.lead.name, "V1");
});
