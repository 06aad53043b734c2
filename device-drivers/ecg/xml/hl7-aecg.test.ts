import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { decodeHl7Aecg } from "./decode-ecg-xml.ts";
import { aecgDocument, SHARED_ECG_XML, SHARED_SKIP, syntheticLead, utf8 } from "./xml-test-support.ts";

const rate = 500;
const one = syntheticLead(1000, rate, { p: 10, r: 200, t: 40 });
const two = syntheticLead(1000, rate, { p: 15, r: 260, t: 50 });
const v1 = syntheticLead(1000, rate, { p: 5, r: -150, t: 20 });
const rhythm = [
  { name: "V1", digits: v1 },
  { name: "II", digits: two },
  { name: "AVR", digits: one.map((v, k) => -Math.round((v + (two[k] as number)) / 2)) },
  { name: "I", digits: one },
];

test("a generated aECG: rhythm leads in standard order with the file's digits and scale", () => {
  const record = decodeHl7Aecg(utf8(aecgDocument({ rhythm })));
  assert.equal(record.source.format, "hl7-aecg");
  assert.equal(record.rhythm.samplingFrequencyHz, 500);
  assert.deepEqual(
    record.rhythm.leads.map((lead) => lead.name),
    ["I", "II", "aVR", "V1"],
  );
  assert.deepEqual(record.rhythm.leads[0]?.samples, one);
  assert.deepEqual(record.rhythm.leads[3]?.samples, v1);
  for (const lead of record.rhythm.leads) assert.equal(lead.nanovoltsPerUnit, 5000);
  assert.equal(record.medianBeats, undefined);
});

test("a generated aECG: subject, acquisition, filters, measurements and statements", () => {
  const record = decodeHl7Aecg(utf8(aecgDocument({ rhythm })));
  assert.deepEqual(record.patient, {
    id: "0042",
    name: "张^伟",
    sex: "F",
    birthDate: "19800214",
    age: "044Y",
  });
  assert.deepEqual(record.acquisition, {
    date: "20240305",
    time: "081502",
    manufacturer: "Acme Medical",
    model: "ECG-1200",
    deviceSerialNumber: "SN-77",
    softwareVersion: "2.1",
    operator: "T-9",
    highPassHz: 0.05,
    lowPassHz: 150,
  });
  // The 200 ms QRS inside MDC_ECG_BEAT is one beat's, not the global measurement.
  assert.deepEqual(record.measurements, { qrsDurationMs: 96, prIntervalMs: 160 });
  assert.deepEqual(record.statements, ["窦性心律", "Left axis deviation", "Abnormal ECG"]);
});

test("median beats from the derived series; its global measurements win over the rhythm's", () => {
  const median = [
    { name: "I", digits: one.subarray(0, 400) },
    { name: "II", digits: two.subarray(0, 400) },
  ];
  const record = decodeHl7Aecg(utf8(aecgDocument({ rhythm, median })));
  assert.equal(record.medianBeats?.samplingFrequencyHz, 500);
  assert.deepEqual(record.medianBeats?.leads[1]?.samples, two.subarray(0, 400));
  // 0.094 s → 94 ms; QTc_BAZETT counts as QTc; PR only in the rhythm set.
  assert.deepEqual(record.measurements, {
    heartRateBpm: 72,
    qrsDurationMs: 94,
    qtcIntervalMs: 412,
    prIntervalMs: 160,
  });
});

test("scale in mV, increment in ms, and a whole-unit origin are converted exactly", () => {
  const record = decodeHl7Aecg(
    utf8(
      aecgDocument({
        rhythm: [{ name: "II", digits: Int32Array.of(0, 1, -2, 300) }],
        scale: '<scale value="0.0025" unit="mV"/>',
        origin: '<origin value="-0.01" unit="mV"/>',
        rateIncrement: '<increment value="1" unit="ms"/>',
      }),
    ),
  );
  assert.equal(record.rhythm.samplingFrequencyHz, 1000);
  const lead = record.rhythm.leads[0];
  assert.equal(lead?.nanovoltsPerUnit, 2500);
  // physical = origin + scale × digit = −10 µV + 2.5 µV × d → in 2.5 µV units: d − 4
  assert.deepEqual(lead?.samples, Int32Array.of(-4, -3, -6, 296));
  assert.equal(record.notes, undefined);
});

test("an origin that is not a whole number of units is rounded, with a note", () => {
  const record = decodeHl7Aecg(
    aecgDocument({
      rhythm: [{ name: "I", digits: Int32Array.of(10, 20) }],
      origin: '<origin value="7" unit="uV"/>',
    }),
  );
  assert.deepEqual(record.rhythm.leads[0]?.samples, Int32Array.of(11, 21)); // 7/5 = 1.4 → 1
  assert.match(record.notes?.join("\n") ?? "", /origin is not a whole number of units/);
});

test("refusals: no series, unsupported value types, non-integer digits", () => {
  const empty = `<?xml version="1.0"?><AnnotatedECG xmlns="urn:hl7-org:v3"><id root="1"/></AnnotatedECG>`;
  assert.throws(() => decodeHl7Aecg(empty), { code: "ECG_XML_NO_WAVEFORM" });
  assert.throws(() => decodeHl7Aecg(aecgDocument({ rhythm, valueType: "SLIST_INT" })), {
    code: "ECG_XML_UNSUPPORTED",
  });
  const badDigits = aecgDocument({ rhythm: [{ name: "I", digits: Int32Array.of(1, 2) }] }).replace(
    "<digits>1 2</digits>",
    "<digits>1 2.5 3</digits>",
  );
  assert.throws(() => decodeHl7Aecg(badDigits), {
    code: "ECG_XML_MALFORMED",
    message: /value 2 is not an integer/,
  });
  const noTime = aecgDocument({ rhythm, rateIncrement: "" });
  assert.throws(() => decodeHl7Aecg(noTime), { code: "ECG_XML_MALFORMED" });
});

test("the HL7 reference example (subject Clark, SBJ-123): 12 leads at 500 Hz with demographics", {
  skip: SHARED_SKIP,
}, () => {
  const record = decodeHl7Aecg(readFileSync(join(SHARED_ECG_XML, "hl7aecg_Example_aECG.xml")));
  assert.deepEqual(record.patient, {
    id: "SBJ-123",
    name: "Clark",
    sex: "M",
    birthDate: "19530508",
    age: "046Y",
  });
  assert.equal(record.acquisition.date, "20021122");
  assert.equal(record.acquisition.time, "091000");
  assert.equal(record.acquisition.manufacturer, "Mortara Instrument, Inc.");
  assert.equal(record.acquisition.model, "ELI250");
  assert.equal(record.acquisition.lowPassHz, 150);
  assert.equal(record.acquisition.notchHz, 60);
  assert.equal(record.rhythm.samplingFrequencyHz, 500);
  assert.deepEqual(
    record.rhythm.leads.map((lead) => lead.name),
    ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"],
  );
  for (const lead of record.rhythm.leads) {
    assert.equal(lead.samples.length, 5000); // 10 s × 500 Hz (effectiveTime low/high)
    assert.equal(lead.nanovoltsPerUnit, 2500);
  }
  // The file's first digits of lead I, as written.
  assert.deepEqual([...(record.rhythm.leads[0]?.samples.subarray(0, 6) ?? [])], [-2, -2, -2, -2, -3, -4]);
  assert.equal(record.medianBeats?.leads.length, 12);
  assert.equal(record.medianBeats?.samplingFrequencyHz, 500);
  assert.deepEqual(record.measurements, {
    prIntervalMs: 148,
    qrsDurationMs: 120,
    qtIntervalMs: 420,
    qtcIntervalMs: 443,
    pAxisDeg: 44,
    qrsAxisDeg: -61,
    tAxisDeg: 86,
  });
  assert.deepEqual(record.statements, ["Sinus Rhythm"]);
});

test("the minimal aECG: one short lead II", { skip: SHARED_SKIP }, () => {
  const record = decodeHl7Aecg(readFileSync(join(SHARED_ECG_XML, "hl7aecg_minimum_aecg.xml")));
  assert.equal(record.rhythm.leads.length, 1);
  assert.equal(record.rhythm.leads[0]?.name, "II");
  assert.deepEqual(
    [...(record.rhythm.leads[0]?.samples ?? [])],
    [-2, -2, -2, -2, -3, -4, -3, -5, -5, -4, -6, -9, -9],
  );
  assert.equal(record.patient.id, "SBJ-123");
});

test("the empty aECG is a clear ECG_XML_NO_WAVEFORM", { skip: SHARED_SKIP }, () => {
  assert.throws(() => decodeHl7Aecg(readFileSync(join(SHARED_ECG_XML, "hl7aecg_empty.xml"))), {
    code: "ECG_XML_NO_WAVEFORM",
    message: /no rhythm series/,
  });
});
