import assert from "node:assert/strict";
import test from "node:test";
import { STANDARD_12_LEADS } from "../ecg-record.ts";
import {
  leadFromSourceCode,
  leadSourceCode,
  MEASUREMENT_CONCEPTS,
  measurementFromCode,
  nanovoltsPerUcumUnit,
  normaliseLeadName,
} from "./coded-concepts.ts";

test("every standard lead has a CID 3001 MDC code that reads back as the same lead", () => {
  const codes = STANDARD_12_LEADS.map((name) => leadSourceCode(name).code.codeValue);
  assert.deepEqual(codes, [
    "2:1",
    "2:2",
    "2:61",
    "2:62",
    "2:63",
    "2:64",
    "2:3",
    "2:4",
    "2:5",
    "2:6",
    "2:7",
    "2:8",
  ]);
  for (const name of STANDARD_12_LEADS) {
    const { code, known } = leadSourceCode(name);
    assert.ok(known);
    assert.equal(code.codingSchemeDesignator, "MDC");
    assert.deepEqual(leadFromSourceCode(code), { name, derived: false });
  }
});

test("leads outside CID 3001 are coded 'Unspecified lead'", () => {
  assert.deepEqual(leadSourceCode("ESOPH"), {
    code: { codeValue: "2:0", codingSchemeDesignator: "MDC", codeMeaning: "Unspecified lead" },
    known: false,
  });
  assert.equal(leadFromSourceCode({ codeValue: "2:0", codingSchemeDesignator: "MDC" }), undefined);
});

test("the older SCPECG codes, the decimal MDC form and the 'Derived Lead' terms are recognised", () => {
  assert.deepEqual(leadFromSourceCode({ codeValue: "5.6.3-9-64", codingSchemeDesignator: "SCPECG" }), {
    name: "aVF",
    derived: false,
  });
  assert.deepEqual(leadFromSourceCode({ codeValue: "131075", codingSchemeDesignator: "MDC" }), {
    name: "V1",
    derived: false,
  });
  assert.deepEqual(leadFromSourceCode({ codeValue: "2:111", codingSchemeDesignator: "MDC" }), {
    name: "III",
    derived: true,
  });
  assert.deepEqual(leadFromSourceCode({ codeValue: "2:16", codingSchemeDesignator: "MDC" }), {
    name: "X",
    derived: false,
  });
  assert.equal(leadFromSourceCode({ codeValue: "2:61", codingSchemeDesignator: "SCPECG" }), undefined);
});

test("vendor spellings of lead labels become the record's spelling", () => {
  assert.equal(normaliseLeadName("AVR"), "aVR");
  assert.equal(normaliseLeadName(" v3r "), "V3R");
  assert.equal(normaliseLeadName("ESOPH"), "ESOPH");
});

test("measurement concepts read back from our codes and from other writers' codes", () => {
  for (const concept of MEASUREMENT_CONCEPTS) assert.equal(measurementFromCode(concept.name), concept.key);
  assert.equal(
    measurementFromCode({ codeValue: "5.10.2.5-5", codingSchemeDesignator: "SCPECG" }),
    "qtcIntervalMs",
  );
  assert.equal(measurementFromCode({ codeValue: "8867-4", codingSchemeDesignator: "LN" }), "heartRateBpm");
  assert.equal(measurementFromCode({ codeValue: "5.10.3-1", codingSchemeDesignator: "SCPECG" }), undefined);
});

test("UCUM voltage units in nanovolts; other units are not voltages", () => {
  assert.deepEqual(["nV", "uV", "mV", "V", "mm[Hg]"].map(nanovoltsPerUcumUnit), [
    1,
    1000,
    1_000_000,
    1_000_000_000,
    undefined,
  ]);
});
