import assert from "node:assert/strict";
import { test } from "node:test";
import type { EcgWaveform } from "../ecg-record.ts";
import { resolveStreamSettings } from "./settings.ts";
import { leadValues } from "./test-support.ts";
import { loopedSlice, waveformForStream } from "./waveform-for-stream.ts";

const lead = (name: string, values: number[], nanovoltsPerUnit = 1000) => ({
  name,
  samples: Int32Array.from(values),
  nanovoltsPerUnit,
});

test("leads are picked in the profile's order, rescaled to its unit and resampled to its rate", () => {
  const source: EcgWaveform = {
    samplingFrequencyHz: 100,
    leads: [lead("V1", [0, 10, 20], 5000), lead("I", [0, 100, 200]), lead("II", [0, 0, 0])],
  };
  const settings = resolveStreamSettings({ leads: ["II", "I", "V1"], samplingFrequencyHz: 200 });
  const { waveform, clippedSamples } = waveformForStream(source, settings);
  assert.equal(clippedSamples, 0);
  assert.equal(waveform.samplingFrequencyHz, 200);
  assert.deepEqual(
    waveform.leads.map((l) => l.name),
    ["II", "I", "V1"],
  );
  assert.deepEqual(leadValues(waveform, "I"), [0, 50, 100, 150, 200, 200]);
  assert.deepEqual(leadValues(waveform, "V1"), [0, 25, 50, 75, 100, 100]);
  assert.ok(waveform.leads.every((l) => l.nanovoltsPerUnit === 1000));
});

test("limb leads the profile sends are derived when the source lacks them; a missing lead is named", () => {
  const source: EcgWaveform = {
    samplingFrequencyHz: 500,
    leads: [lead("I", [10, 20]), lead("II", [30, 50])],
  };
  const settings = resolveStreamSettings({ leads: ["I", "II", "III", "aVF"] });
  assert.deepEqual(leadValues(waveformForStream(source, settings).waveform, "III"), [20, 30]);
  assert.throws(
    () => waveformForStream(source, resolveStreamSettings({ leads: ["I", "V1"] })),
    (error: Error & { code?: string }) =>
      error.code === "ECG_STREAM_WAVEFORM_MISMATCH" && /V1/.test(error.message),
  );
});

test("values beyond the sample width are clipped and counted", () => {
  const source: EcgWaveform = { samplingFrequencyHz: 500, leads: [lead("I", [40000, -40000, 5])] };
  const { waveform, clippedSamples } = waveformForStream(source, resolveStreamSettings({ leads: ["I"] }));
  assert.deepEqual(leadValues(waveform, "I"), [32767, -32768, 5]);
  assert.equal(clippedSamples, 2);
});

test("loopedSlice wraps around the source", () => {
  const source: EcgWaveform = { samplingFrequencyHz: 500, leads: [lead("I", [1, 2, 3])] };
  assert.deepEqual(leadValues(loopedSlice(source, 2, 5), "I"), [3, 1, 2, 3, 1]);
});
