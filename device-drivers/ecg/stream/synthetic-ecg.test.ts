import assert from "node:assert/strict";
import { test } from "node:test";
import { withDerivedLimbLeads } from "../derive-leads.ts";
import { STANDARD_12_LEADS } from "../ecg-record.ts";
import { generateSyntheticEcg } from "./synthetic-ecg.ts";
import { leadValues } from "./test-support.ts";

/** R peaks: local maxima of lead II above 0.6 mV. */
function rPeaks(samples: Int32Array, nanovoltsPerUnit: number): number[] {
  const threshold = 600_000 / nanovoltsPerUnit;
  const peaks: number[] = [];
  for (let k = 1; k < samples.length - 1; k++) {
    const value = samples[k]!;
    if (value > threshold && value >= samples[k - 1]! && value > samples[k + 1]!) peaks.push(k);
  }
  return peaks;
}

test("a default synthetic ECG: 12 standard leads, 10 s at 500 Hz, 1 µV units, no patient", () => {
  const record = generateSyntheticEcg();
  assert.equal(record.source.format, "synthetic");
  assert.deepEqual(record.patient, {});
  assert.deepEqual(
    record.rhythm.leads.map((lead) => lead.name),
    [...STANDARD_12_LEADS],
  );
  assert.equal(record.rhythm.samplingFrequencyHz, 500);
  for (const lead of record.rhythm.leads) {
    assert.equal(lead.samples.length, 5000);
    assert.equal(lead.nanovoltsPerUnit, 1000);
    assert.equal(lead.derived, undefined);
  }
  assert.deepEqual(record.measurements, { heartRateBpm: 72, rrIntervalMs: 833 });
});

test("beats come at the requested rate, with a plausible QRS amplitude", () => {
  for (const heartRateBpm of [60, 72, 120]) {
    const record = generateSyntheticEcg({ heartRateBpm, seconds: 10 });
    const leadII = record.rhythm.leads.find((lead) => lead.name === "II")!;
    const peaks = rPeaks(leadII.samples, 1000);
    const rr = peaks.slice(1).map((at, index) => (at - peaks[index]!) / 500);
    const expectedRr = 60 / heartRateBpm;
    assert.ok(
      rr.every((interval) => Math.abs(interval - expectedRr) <= 0.004),
      `${heartRateBpm} bpm: ${rr}`,
    );
    assert.equal(peaks.length, Math.floor((10 - 0.35) / expectedRr) + 1, `${heartRateBpm} bpm`);
    const max = Math.max(...leadII.samples);
    assert.ok(max > 900 && max < 1500, `R in lead II ${max} µV`);
  }
});

test("its limb leads are exactly what the box derives from I and II", () => {
  const record = generateSyntheticEcg({ noiseMicrovolts: 20 });
  const eight = {
    samplingFrequencyHz: 500,
    leads: record.rhythm.leads.filter((lead) => !["III", "aVR", "aVL", "aVF"].includes(lead.name)),
  };
  const derived = withDerivedLimbLeads(eight);
  for (const name of ["III", "aVR", "aVL", "aVF"]) {
    assert.deepEqual(leadValues(record.rhythm, name), leadValues(derived, name), name);
  }
});

test("same options, same samples; the noise seed changes them; the 8-lead set and median beat", () => {
  const a = generateSyntheticEcg({ noiseMicrovolts: 10, seed: 5 });
  const b = generateSyntheticEcg({ noiseMicrovolts: 10, seed: 5 });
  const c = generateSyntheticEcg({ noiseMicrovolts: 10, seed: 6 });
  assert.deepEqual(leadValues(a.rhythm, "V3"), leadValues(b.rhythm, "V3"));
  assert.notDeepEqual(leadValues(a.rhythm, "V3"), leadValues(c.rhythm, "V3"));
  const eight = generateSyntheticEcg({
    leadSet: "8",
    seconds: 2.5,
    samplingFrequencyHz: 1000,
    nanovoltsPerUnit: 2500,
    medianBeats: true,
    patient: { id: "T1" },
  });
  assert.deepEqual(
    eight.rhythm.leads.map((lead) => lead.name),
    ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"],
  );
  assert.equal(eight.rhythm.leads[0]!.samples.length, 2500);
  assert.equal(eight.rhythm.leads[0]!.nanovoltsPerUnit, 2500);
  assert.equal(eight.medianBeats!.leads[0]!.samples.length, 1200);
  assert.deepEqual(rPeaks(eight.medianBeats!.leads[1]!.samples, 2500), [500]);
  assert.deepEqual(eight.patient, { id: "T1" });
  assert.throws(() => generateSyntheticEcg({ heartRateBpm: 0 }), RangeError);
});
