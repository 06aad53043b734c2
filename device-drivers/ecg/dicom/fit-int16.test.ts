import assert from "node:assert/strict";
import test from "node:test";
import { fitLeadToInt16 } from "./fit-int16.ts";

test("a lead within 16 bits is stored as is, its sensitivity its unit size in µV", () => {
  const samples = Int32Array.of(-32768, 0, 32767);
  const fitted = fitLeadToInt16("lead I", samples, 2500);
  assert.equal(fitted.values, samples);
  assert.equal(fitted.sensitivityUv, "2.5");
  assert.equal(fitted.note, undefined);
});

test("a lead beyond 16 bits is divided by the smallest factor that fits, the sensitivity multiplied by it", () => {
  const samples = Int32Array.of(-70000, -1, 0, 1, 65534, 65535);
  const fitted = fitLeadToInt16("lead II", samples, 1000);
  // -70000 needs a factor of 70000 / 32768 = 2.13623046875: 2.1362305 µV written (8 digits, rounded up).
  assert.equal(fitted.sensitivityUv, "2.1362305");
  assert.deepEqual(Array.from(fitted.values), [-32768, 0, 0, 0, 30677, 30678]);
  const unitNv = Number(fitted.sensitivityUv) * 1000;
  samples.forEach((value, index) => {
    assert.ok(Math.abs((fitted.values[index] ?? 0) * unitNv - value * 1000) <= unitNv / 2);
  });
  assert.match(
    fitted.note ?? "",
    /^lead II: values beyond 16 bits, stored at 2\.1362305 µV per unit instead of 1 µV/,
  );
});
