import assert from "node:assert/strict";
import { test } from "node:test";
import { withDerivedLimbLeads } from "./derive-leads.ts";

const lead = (name: string, values: number[]) => ({
  name,
  samples: Int32Array.from(values),
  nanovoltsPerUnit: 5000,
});

test("III, aVR, aVL and aVF are derived from I and II, in standard order, marked derived", () => {
  const out = withDerivedLimbLeads({
    samplingFrequencyHz: 500,
    leads: [lead("I", [100, -40, 3]), lead("II", [300, 20, 4]), lead("V1", [7, 8, 9])],
  });
  assert.deepEqual(
    out.leads.map((l) => l.name),
    ["I", "II", "III", "aVR", "aVL", "aVF", "V1"],
  );
  const get = (name: string) => out.leads.find((l) => l.name === name);
  assert.deepEqual([...(get("III")?.samples ?? [])], [200, 60, 1]);
  assert.deepEqual([...(get("aVR")?.samples ?? [])], [-200, 10, -3]); // -(3+4)/2 = -3.5 → -3
  assert.deepEqual([...(get("aVL")?.samples ?? [])], [-50, -50, 1]);
  assert.deepEqual([...(get("aVF")?.samples ?? [])], [250, 40, 3]); // 4 - 1.5 = 2.5 → 3
  assert.equal(get("aVF")?.derived, true);
  assert.equal(get("I")?.derived, undefined);
});

test("a lead the device measured is kept, and nothing is derived without I and II", () => {
  const own = lead("III", [1, 1, 1]);
  const out = withDerivedLimbLeads({
    samplingFrequencyHz: 500,
    leads: [lead("I", [1, 2, 3]), lead("II", [3, 2, 1]), own],
  });
  assert.equal(
    out.leads.find((l) => l.name === "III"),
    own,
  );
  const only = { samplingFrequencyHz: 500, leads: [lead("II", [1])] };
  assert.equal(withDerivedLimbLeads(only), only);
});
