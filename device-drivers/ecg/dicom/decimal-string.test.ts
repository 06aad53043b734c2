import assert from "node:assert/strict";
import test from "node:test";
import { formatDs, formatDsAtLeast } from "./decimal-string.ts";

test("DS values fit 16 characters without losing what fits", () => {
  assert.equal(formatDs(2.5), "2.5");
  assert.equal(formatDs(1000), "1000");
  assert.equal(formatDs(0.05), "0.05");
  assert.equal(formatDs(1 / 3), "0.33333333333333");
  assert.equal(formatDs(1 / 3).length, 16);
  assert.equal(formatDs(1e-9), "1e-9");
  assert.equal(formatDs(2000 / 3), "666.666666666667");
  assert.throws(() => formatDs(Number.NaN), RangeError);
});

test("rounded up, never below the value asked for", () => {
  assert.equal(formatDsAtLeast(2.13623046875), "2.1362305");
  assert.equal(formatDsAtLeast(5), "5");
  for (const value of [0.1 + 0.2, 1 / 7, 123456.789012, 3.0000000001]) {
    assert.ok(Number(formatDsAtLeast(value)) >= value, String(value));
  }
});
