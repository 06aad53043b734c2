import assert from "node:assert/strict";
import test from "node:test";
import { interleavePhases, planSamplingRate, takePhase, upsampleLinear } from "./sampling-rate.ts";

test("rates within 200–1000 Hz stay; below are upsampled to ≥ 200 Hz, above split into ≤ 1000 Hz phases", () => {
  assert.deepEqual(planSamplingRate(200), { kind: "as-is" });
  assert.deepEqual(planSamplingRate(1000), { kind: "as-is" });
  assert.deepEqual(planSamplingRate(100), { kind: "upsample", factor: 2 });
  assert.deepEqual(planSamplingRate(150), { kind: "upsample", factor: 2 });
  assert.deepEqual(planSamplingRate(60), { kind: "upsample", factor: 4 });
  assert.deepEqual(planSamplingRate(1001), { kind: "phases", count: 2 });
  assert.deepEqual(planSamplingRate(2000), { kind: "phases", count: 2 });
  assert.deepEqual(planSamplingRate(2500), { kind: "phases", count: 3 });
});

test("linear upsampling keeps every original and holds the last", () => {
  assert.deepEqual(Array.from(upsampleLinear(Int32Array.of(0, 10, -5), 2)), [0, 5, 10, 3, -5, -5]);
  assert.deepEqual(Array.from(upsampleLinear(Int32Array.of(0, 9), 3)), [0, 3, 6, 9, 9, 9]);
});

test("phases split and interleave back to the same samples, for lengths not divisible by the count", () => {
  const values = Int32Array.from({ length: 11 }, (_, index) => index * index - 7);
  for (const count of [2, 3, 4]) {
    const phases = Array.from({ length: count }, (_, phase) => takePhase(values, phase, count));
    assert.equal(
      phases.reduce((sum, phase) => sum + phase.length, 0),
      values.length,
    );
    assert.deepEqual(interleavePhases(phases), values);
  }
  assert.deepEqual(Array.from(takePhase(values, 1, 3)), [-6, 9, 42, 93]);
});
