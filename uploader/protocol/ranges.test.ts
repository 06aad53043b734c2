import assert from "node:assert/strict";
import { test } from "node:test";
import { chunkRanges, coveredBytes, mergeRanges, missingRanges } from "./ranges.ts";

test("mergeRanges sorts, joins overlapping and adjacent ranges, drops empty ones", () => {
  assert.deepEqual(
    mergeRanges([
      [10, 20],
      [0, 5],
      [5, 8],
      [15, 30],
      [40, 40],
    ]),
    [
      [0, 8],
      [10, 30],
    ],
  );
});

test("missingRanges is the complement within the instance", () => {
  assert.deepEqual(missingRanges(100, []), [[0, 100]]);
  assert.deepEqual(missingRanges(100, [[0, 100]]), []);
  assert.deepEqual(
    missingRanges(100, [
      [10, 20],
      [50, 200],
    ]),
    [
      [0, 10],
      [20, 50],
    ],
  );
  assert.deepEqual(missingRanges(100, [[150, 160]]), [[0, 100]]);
  assert.equal(
    coveredBytes([
      [0, 10],
      [5, 15],
      [20, 25],
    ]),
    20,
  );
});

test("chunkRanges cuts at chunk-size boundaries from the file's start", () => {
  assert.deepEqual(
    [...chunkRanges([[0, 2500]], 1024)],
    [
      [0, 1024],
      [1024, 1024],
      [2048, 452],
    ],
  );
  // A resumed range starting mid-chunk first runs to the next boundary.
  assert.deepEqual(
    [...chunkRanges([[1500, 3000]], 1024)],
    [
      [1500, 548],
      [2048, 952],
    ],
  );
});
