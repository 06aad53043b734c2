import assert from "node:assert/strict";
import { test } from "node:test";
import { DECIMATION_COLUMN_MM, drawnRuns, sampleYMm, type TraceScale, tracePoints } from "./trace-points.ts";

const window = { xMm: 30, startSeconds: 0, baselineMm: 100, firstSample: 0, endSample: 0 };

test("a sample's y is its physical value times the gain above the baseline", () => {
  const scale: TraceScale = {
    samplingFrequencyHz: 500,
    speedMmPerS: 25,
    gainMmPerMv: 10,
    nanovoltsPerUnit: 2500,
  };
  assert.equal(sampleYMm(400, 100, scale), 90); // 400 × 2.5 µV = 1 mV → 10 mm up
  assert.equal(sampleYMm(-200, 100, scale), 105);
  assert.equal(sampleYMm(400, 100, { ...scale, gainMmPerMv: 20 }), 80);
});

test("at 500 Hz and 25 mm/s every sample is a point, 0.05 mm apart", () => {
  const scale: TraceScale = {
    samplingFrequencyHz: 500,
    speedMmPerS: 25,
    gainMmPerMv: 10,
    nanovoltsPerUnit: 1000,
  };
  const samples = Int32Array.from({ length: 100 }, (_, k) => k * 10);
  const points = tracePoints(samples, 0, 100, window, scale);
  assert.equal(points.length, 200);
  assert.ok(Math.abs(points[2]! - points[0]! - 0.05) < 1e-9);
  assert.equal(points[0], 30);
  assert.equal(points[1], 100);
});

test("at 2 kHz each 0.1 mm column keeps its lowest and highest sample, so the drawn envelope is unchanged", () => {
  const fs = 2000;
  const scale: TraceScale = {
    samplingFrequencyHz: fs,
    speedMmPerS: 25,
    gainMmPerMv: 10,
    nanovoltsPerUnit: 1000,
  };
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const samples = Int32Array.from({ length: fs }, (_, k) =>
    Math.round(800 * Math.sin(k / 40) + 300 * random()),
  );
  samples[1234] = 5000; // a one-sample spike must keep its full height
  const points = tracePoints(samples, 0, samples.length, window, scale);
  const columnOf = (x: number) => Math.floor((x - window.xMm) / DECIMATION_COLUMN_MM + 1e-9);
  const drawn = new Map<number, number[]>();
  for (let i = 0; i < points.length; i += 2) {
    const column = columnOf(points[i]!);
    drawn.set(column, [...(drawn.get(column) ?? []), points[i + 1]!]);
  }
  const expected = new Map<number, number[]>();
  for (let k = 0; k < samples.length; k++) {
    const column = columnOf(window.xMm + (k / fs) * 25);
    expected.set(column, [...(expected.get(column) ?? []), sampleYMm(samples[k]!, 100, scale)]);
  }
  assert.equal(drawn.size, expected.size);
  for (const [column, ys] of expected) {
    const kept = drawn.get(column)!;
    assert.ok(kept.length <= 2, `column ${column} keeps ${kept.length} points`);
    assert.equal(Math.min(...kept), Math.min(...ys));
    assert.equal(Math.max(...kept), Math.max(...ys));
  }
  // 8 samples per column, at most 2 kept: three quarters of the points go.
  assert.ok(
    points.length / 2 <= samples.length / 4 + 2,
    `${points.length / 2} points for ${samples.length} samples`,
  );
  assert.ok(points.some((_, i) => i % 2 === 1 && points[i] === sampleYMm(5000, 100, scale)));
  // Points stay in time order.
  for (let i = 2; i < points.length; i += 2) assert.ok(points[i]! >= points[i - 2]!);
});

test("gaps are cut out of the runs to draw, and a run of one sample is not drawn", () => {
  const w = { ...window, firstSample: 100, endSample: 200 };
  assert.deepEqual(drawnRuns(w), [[100, 200]]);
  assert.deepEqual(drawnRuns(w, [{ startSample: 150, sampleCount: 20 }]), [
    [100, 150],
    [170, 200],
  ]);
  assert.deepEqual(drawnRuns(w, [{ startSample: 50, sampleCount: 60 }]), [[110, 200]]);
  assert.deepEqual(drawnRuns(w, [{ startSample: 101, sampleCount: 200 }]), []);
  assert.deepEqual(drawnRuns(w, [{ startSample: 0, sampleCount: 1000 }]), []);
  assert.deepEqual(drawnRuns(w, [{ startSample: 300, sampleCount: 5 }]), [[100, 200]]);
});
