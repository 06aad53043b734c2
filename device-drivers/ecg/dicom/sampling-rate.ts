/**
 * The 12-lead and General ECG IODs take 200 to 1000 samples per second (PS3.3 A.34.3.4, A.34.4.4).
 * Rates outside that are brought inside without dropping a sample:
 * - below 200 Hz (e.g. PTB-XL's 100 Hz records): upsampled by the smallest whole factor that
 *   reaches 200 Hz; every factor-th sample is an original, those between are linear interpolation;
 * - above 1000 Hz: split into as many interleaved multiplex groups ("phases") as needed to bring
 *   each to ≤ 1000 Hz: phase p holds samples p, p+k, p+2k, … and says so by its Channel Time Skew
 *   (p / rate seconds). Each phase is itself a valid ECG at rate / k; together they are the
 *   original samples, which our reader interleaves back.
 */

export const MIN_SAMPLING_HZ = 200;
export const MAX_SAMPLING_HZ = 1000;

export type RatePlan =
  | { kind: "as-is" }
  | { kind: "upsample"; factor: number }
  | { kind: "phases"; count: number };

export function planSamplingRate(hz: number): RatePlan {
  if (hz < MIN_SAMPLING_HZ) return { kind: "upsample", factor: Math.ceil(MIN_SAMPLING_HZ / hz) };
  if (hz > MAX_SAMPLING_HZ) return { kind: "phases", count: Math.ceil(hz / MAX_SAMPLING_HZ) };
  return { kind: "as-is" };
}

/**
 * `factor` samples per original one: the original first, then linear steps towards the next; the
 * last original is held, so the strip keeps its duration (N originals → N × factor samples).
 */
export function upsampleLinear(values: Int32Array, factor: number): Int32Array {
  const out = new Int32Array(values.length * factor);
  for (let index = 0; index < values.length; index += 1) {
    const from = values[index] ?? 0;
    const to = values[index + 1] ?? from;
    for (let step = 0; step < factor; step += 1) {
      out[index * factor + step] = Math.round(from + ((to - from) * step) / factor);
    }
  }
  return out;
}

/** Samples phase, phase + count, phase + 2 × count, … */
export function takePhase(values: Int32Array, phase: number, count: number): Int32Array {
  const out = new Int32Array(Math.ceil((values.length - phase) / count));
  for (let index = 0; index < out.length; index += 1) out[index] = values[phase + index * count] ?? 0;
  return out;
}

/** Inverse of `takePhase` over all phases: phase p's i-th sample back at i × count + p. */
export function interleavePhases(phases: readonly Int32Array[]): Int32Array {
  const count = phases.length;
  const total = phases.reduce((sum, phase) => sum + phase.length, 0);
  const out = new Int32Array(total);
  phases.forEach((phase, p) => {
    for (let index = 0; index < phase.length; index += 1) out[index * count + p] = phase[index] ?? 0;
  });
  return out;
}
