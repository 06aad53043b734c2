import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { decodeEcgXml, decodeGeMuseXml } from "./decode-ecg-xml.ts";
import { museDocument, SHARED_ECG_XML, SHARED_SKIP, synthetic12 } from "./xml-test-support.ts";

const all = synthetic12(1000, 500);
const stored = new Map(
  ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"].map((name) => [name, all.get(name) as Int32Array]),
);
const latin1 = (text: string) => new Uint8Array(Buffer.from(text, "latin1"));

test("a generated MUSE file: 8 stored leads + the 4 limb leads the box derives, in standard order", () => {
  const record = decodeEcgXml(latin1(museDocument({ rhythm: stored })));
  assert.equal(record.source.format, "ge-muse-xml");
  assert.equal(record.source.version, "8.0.2.10132");
  assert.equal(record.rhythm.samplingFrequencyHz, 500);
  assert.deepEqual(
    record.rhythm.leads.map((l) => [l.name, l.derived === true]),
    [
      ["I", false],
      ["II", false],
      ["III", true],
      ["aVR", true],
      ["aVL", true],
      ["aVF", true],
      ["V1", false],
      ["V2", false],
      ["V3", false],
      ["V4", false],
      ["V5", false],
      ["V6", false],
    ],
  );
  for (const l of record.rhythm.leads) {
    assert.equal(l.nanovoltsPerUnit, 4880); // 4.88 µV per bit
    assert.deepEqual(l.samples, all.get(l.name), l.name); // synthetic limb leads use the same rounding
  }
  assert.match(record.notes?.join("\n") ?? "", /III, aVR, aVL, aVF derived by the box/);
});

test("a generated MUSE file: ISO-8859-1 demographics, test data, measurements, diagnosis lines", () => {
  const record = decodeGeMuseXml(latin1(museDocument({ rhythm: stored })));
  assert.deepEqual(record.patient, {
    id: "000123",
    name: "Müller^Anna",
    sex: "F",
    birthDate: "19790315",
    age: "045Y",
    heightCm: 165.1,
    weightKg: 68,
  });
  assert.deepEqual(record.acquisition, {
    date: "20231201",
    time: "143005",
    model: "MAC55",
    softwareVersion: "010A",
    institution: "Township HC",
    department: "ECG room",
    operator: "Wang",
    referringPhysician: "Li^Wei",
    highPassHz: 0.56,
    lowPassHz: 40,
    notchHz: 50,
  });
  assert.deepEqual(record.measurements, {
    heartRateBpm: 75,
    prIntervalMs: 150,
    qrsDurationMs: 90,
    qtIntervalMs: 380,
    qtcIntervalMs: 424,
    pAxisDeg: 50,
    qrsAxisDeg: 40,
    tAxisDeg: 30,
  });
  // Statements up to ENDSLINE form one printed line.
  assert.deepEqual(record.statements, ["Normal sinus rhythm with sinus arrhythmia", "Normal ECG"]);
});

test("MUSE median beats are decoded and completed like the rhythm", () => {
  const median = new Map([...stored].map(([name, s]) => [name, s.subarray(0, 300)]));
  const record = decodeGeMuseXml(latin1(museDocument({ rhythm: stored, median })));
  assert.equal(record.medianBeats?.leads.length, 12);
  assert.equal(record.medianBeats?.leads[0]?.samples.length, 300);
});

test("a lead whose bytes do not match LeadDataCRC32 is ECG_XML_MALFORMED", () => {
  assert.throws(() => decodeGeMuseXml(latin1(museDocument({ rhythm: stored, corruptCrcOf: "V3" }))), {
    code: "ECG_XML_MALFORMED",
    message: /lead V3: waveform bytes do not match LeadDataCRC32/,
  });
});

test("a MUSE file without a rhythm waveform is ECG_XML_NO_WAVEFORM", () => {
  const text = museDocument({ rhythm: stored }).replace(/<Waveform>[\s\S]*<\/Waveform>/, "");
  assert.throws(() => decodeGeMuseXml(text), { code: "ECG_XML_NO_WAVEFORM" });
});

for (const file of ["gemuse_example1.xml", "gemuse_example2.xml"]) {
  test(`real MUSE ${file}: 10 s at 500 Hz, 8 stored + 4 derived leads, CRCs verified`, {
    skip: SHARED_SKIP,
  }, () => {
    const record = decodeEcgXml(readFileSync(join(SHARED_ECG_XML, file)));
    assert.equal(record.source.version, "9.0.7.17363");
    assert.equal(record.rhythm.samplingFrequencyHz, 500);
    assert.equal(record.rhythm.leads.length, 12);
    for (const l of record.rhythm.leads) {
      assert.equal(l.samples.length, 10 * 500);
      assert.equal(l.nanovoltsPerUnit, 4880);
      assert.equal(l.derived === true, ["III", "aVR", "aVL", "aVF"].includes(l.name), l.name);
    }
    assert.equal(record.medianBeats?.leads.length, 12);
    assert.equal(record.medianBeats?.leads[0]?.samples.length, 600);
    // Demographics were removed from these exports; the cart's ID survives in PharmaData.
    assert.deepEqual(record.patient, {});
    assert.match(record.acquisition.deviceSerialNumber ?? "", /^SKJ\d+PA$/);
    assert.equal(record.acquisition.highPassHz, 0.16);
    assert.ok(record.measurements?.heartRateBpm);
    // Lead II QRS peak in the physiological range.
    const two = record.rhythm.leads.find((l) => l.name === "II");
    assert.ok(two);
    const peak = two.samples.reduce((max, v) => Math.max(max, Math.abs(v)), 0);
    const millivolts = (peak * two.nanovoltsPerUnit) / 1e6;
    assert.ok(millivolts >= 0.3 && millivolts <= 3, `II peak ${millivolts} mV`);
  });
}

test("real MUSE example 1: the measurements the file states", { skip: SHARED_SKIP }, () => {
  const record = decodeEcgXml(readFileSync(join(SHARED_ECG_XML, "gemuse_example1.xml")));
  assert.deepEqual(record.measurements, {
    heartRateBpm: 48,
    rrIntervalMs: 1242,
    prIntervalMs: 138,
    qrsDurationMs: 96,
    qtIntervalMs: 452,
    qtcIntervalMs: 403,
    pAxisDeg: 51,
    qrsAxisDeg: 20,
    tAxisDeg: 40,
  });
});
