/**
 * A lead's samples as points on the page, in mm: x from the sample's time and the paper speed,
 * y from its physical value (sample × nanovoltsPerUnit) and the gain, 0 mV on the row's baseline,
 * positive upwards.
 *
 * At high sampling rates several samples fall within 0.1 mm of paper. There only the lowest and
 * the highest sample of each 0.1 mm column are kept, in their time order: the drawn envelope of
 * every column is unchanged (a spike of one sample still reaches its full height), and the line is
 * drawn 0.25 mm wide, wider than the column, so the reader sees the same trace with fewer points.
 */
import type { EcgGap } from "../ecg-record.ts";

export interface TraceScale {
  samplingFrequencyHz: number;
  speedMmPerS: number;
  gainMmPerMv: number;
  nanovoltsPerUnit: number;
}

export interface TraceWindow {
  /** x (mm) of time `startSeconds`. */
  xMm: number;
  startSeconds: number;
  /** y (mm) of 0 mV. */
  baselineMm: number;
  firstSample: number;
  endSample: number;
}

/** Width of the columns within which samples may be merged (mm). */
export const DECIMATION_COLUMN_MM = 0.1;

/** y (mm) of a sample value: 0 mV on the baseline, 1 mV `gainMmPerMv` above it (page y grows down). */
export function sampleYMm(value: number, baselineMm: number, scale: TraceScale): number {
  return baselineMm - ((value * scale.nanovoltsPerUnit) / 1e6) * scale.gainMmPerMv;
}

/**
 * The runs of samples to draw in a window: [first, end) ranges, with the record's gaps cut out
 * (their samples are fill, not signal, and must not be drawn as if they were).
 */
export function drawnRuns(window: TraceWindow, gaps: readonly EcgGap[] = []): Array<[number, number]> {
  let runs: Array<[number, number]> = [[window.firstSample, window.endSample]];
  for (const gap of gaps) {
    const gapStart = gap.startSample;
    const gapEnd = gap.startSample + gap.sampleCount;
    runs = runs.flatMap(([start, end]): Array<[number, number]> => {
      if (gapEnd <= start || gapStart >= end) return [[start, end]];
      const pieces: Array<[number, number]> = [];
      if (gapStart > start) pieces.push([start, gapStart]);
      if (gapEnd < end) pieces.push([gapEnd, end]);
      return pieces;
    });
  }
  // A single sample is no line.
  return runs.filter(([start, end]) => end - start >= 2);
}

/** Points (flat x, y pairs in mm) for samples [start, end) of a window. */
export function tracePoints(
  samples: Int32Array,
  start: number,
  end: number,
  window: TraceWindow,
  scale: TraceScale,
): number[] {
  const mmPerSample = scale.speedMmPerS / scale.samplingFrequencyHz;
  const x = (k: number) =>
    window.xMm + (k / scale.samplingFrequencyHz - window.startSeconds) * scale.speedMmPerS;
  const y = (k: number) => sampleYMm(samples[k]!, window.baselineMm, scale);
  const points: number[] = [];
  // Two samples per column or fewer: nothing to merge.
  if (mmPerSample * 2 >= DECIMATION_COLUMN_MM) {
    for (let k = start; k < end; k++) points.push(x(k), y(k));
    return points;
  }
  let k = start;
  while (k < end) {
    const column = Math.floor((x(k) - window.xMm) / DECIMATION_COLUMN_MM + 1e-9);
    let low = k;
    let high = k;
    let next = k + 1;
    while (next < end && Math.floor((x(next) - window.xMm) / DECIMATION_COLUMN_MM + 1e-9) === column) {
      if (samples[next]! < samples[low]!) low = next;
      if (samples[next]! > samples[high]!) high = next;
      next++;
    }
    if (low === high) points.push(x(low), y(low));
    else for (const index of low < high ? [low, high] : [high, low]) points.push(x(index), y(index));
    k = next;
  }
  return points;
}
