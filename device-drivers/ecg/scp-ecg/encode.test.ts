import assert from "node:assert/strict";
import { test } from "node:test";
import type { EcgLead, EcgRecord } from "../ecg-record.ts";
import { crcCcitt } from "./crc.ts";
import { decodeScpEcg, decodeScpEcgDetailed } from "./decode.ts";
import { encodeScpEcg, type ScpEncodeOptions } from "./encode.ts";
import { SCP_ERROR_CODES } from "./errors.ts";
import { sectionOffset, syntheticLeads, syntheticRecord } from "./test-support.ts";

function samplesOf(record: EcgRecord): Record<string, number[]> {
  return Object.fromEntries(record.rhythm.leads.map((lead) => [lead.name, [...lead.samples]]));
}

const CODINGS: Array<[string, ScpEncodeOptions]> = [
  ["default Huffman + second differences", {}],
  ["default Huffman + first differences", { difference: 1 }],
  ["default Huffman, plain samples", { difference: 0 }],
  ["uncompressed", { compression: "none" }],
  ["uncompressed + second differences", { compression: "none", difference: 2 }],
];

for (const [name, options] of CODINGS) {
  test(`round trip, ${name}: every sample, the rate and the unit come back`, () => {
    const record = syntheticRecord();
    const decoded = decodeScpEcg(encodeScpEcg(record, options));
    assert.equal(decoded.source.format, "scp-ecg");
    assert.equal(decoded.source.version, "2.0");
    assert.equal(decoded.rhythm.samplingFrequencyHz, 500);
    assert.deepEqual(
      decoded.rhythm.leads.map((lead) => [lead.name, lead.nanovoltsPerUnit]),
      record.rhythm.leads.map((lead) => [lead.name, 2500]),
    );
    assert.deepEqual(samplesOf(decoded), samplesOf(record));
    assert.equal(decoded.notes, undefined);
  });
}

test("Huffman with second differences takes less than half the bytes of uncompressed data", () => {
  const record = syntheticRecord();
  const huffman = encodeScpEcg(record).length;
  const plain = encodeScpEcg(record, { compression: "none" }).length;
  assert.ok(huffman * 2 < plain, `${huffman} vs ${plain} bytes`);
});

test("the record states its own length and CRC, and every section its CRC", () => {
  const bytes = encodeScpEcg(syntheticRecord());
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(view.getUint32(2, true), bytes.length);
  assert.equal(view.getUint16(0, true), crcCcitt(bytes, 2, bytes.length));
  assert.equal(new TextDecoder().decode(bytes.subarray(16, 22)), "SCPECG");
  for (const id of [1, 2, 3, 6]) {
    const offset = sectionOffset(bytes, id);
    const length = view.getUint32(offset + 4, true);
    assert.equal(view.getUint16(offset, true), crcCcitt(bytes, offset + 2, offset + length), `section ${id}`);
    assert.equal(length % 2, 0, `section ${id} has an even length`);
  }
});

test("patient and acquisition fields survive the round trip", () => {
  const record = syntheticRecord({
    patient: {
      id: "P-0042",
      name: "Smith^Anna",
      sex: "F",
      birthDate: "19800229",
      age: "045Y",
      heightCm: 165.5,
      weightKg: 58.25,
    },
    acquisition: {
      date: "20240601",
      time: "083015",
      manufacturer: "Acme Cardio",
      model: "EC-12",
      deviceSerialNumber: "SN12345",
      softwareVersion: "3.1.4",
      institution: "Township Health Centre",
      department: "Outpatients",
      operator: "Tech Li",
      referringPhysician: "Dr Wang",
      lowPassHz: 150,
      highPassHz: 0.05,
      notchHz: 50,
    },
  });
  const decoded = decodeScpEcg(encodeScpEcg(record));
  assert.deepEqual(decoded.patient, record.patient);
  assert.deepEqual(decoded.acquisition, record.acquisition);
});

test("Chinese text round trips as UTF-8 (declared ISO 10646) and as GBK (declared GB 2312)", () => {
  const record = syntheticRecord({
    patient: { id: "110105", name: "张三丰" },
    acquisition: { institution: "城关镇卫生院", operator: "李医生" },
    statements: ["窦性心律", "正常心电图"],
  });
  for (const characterSet of ["utf-8", "gbk"] as const) {
    const details = decodeScpEcgDetailed(encodeScpEcg(record, { characterSet }));
    assert.equal(details.section1?.languageCode, characterSet === "gbk" ? 0x27 : 0x07);
    assert.equal(details.record.patient.name, "张三丰");
    assert.equal(details.record.acquisition.institution, "城关镇卫生院");
    assert.equal(details.record.acquisition.operator, "李医生");
    assert.deepEqual(details.record.statements, ["窦性心律", "正常心电图"]);
  }
});

test("an all-ASCII record declares ASCII (language code 0)", () => {
  const details = decodeScpEcgDetailed(encodeScpEcg(syntheticRecord({ patient: { name: "Doe^John" } })));
  assert.equal(details.section1?.languageCode, 0);
});

test("measurements and statements survive the round trip", () => {
  const measurements = {
    heartRateBpm: 72,
    rrIntervalMs: 833,
    prIntervalMs: 160,
    qrsDurationMs: 92,
    qtIntervalMs: 380,
    qtcIntervalMs: 416,
    pAxisDeg: 45,
    qrsAxisDeg: -30,
    tAxisDeg: 60,
  };
  const decoded = decodeScpEcg(
    encodeScpEcg(syntheticRecord({ measurements, statements: ["Sinus rhythm", "Normal ECG"] })),
  );
  assert.deepEqual(decoded.measurements, measurements);
  assert.deepEqual(decoded.statements, ["Sinus rhythm", "Normal ECG"]);
});

test("partial measurements stay partial (no invented values)", () => {
  const decoded = decodeScpEcg(
    encodeScpEcg(syntheticRecord({ measurements: { qrsDurationMs: 100, tAxisDeg: -10 } })),
  );
  assert.deepEqual(decoded.measurements, { qrsDurationMs: 100, tAxisDeg: -10 });
});

test("median beats go out as reference beats (sections 4 and 5) and come back", () => {
  const medianLeads = syntheticLeads({ seconds: 1.2, seed: 5 });
  const record = syntheticRecord({ medianBeats: { samplingFrequencyHz: 500, leads: medianLeads } });
  const decoded = decodeScpEcg(encodeScpEcg(record));
  assert.equal(decoded.medianBeats?.samplingFrequencyHz, 500);
  assert.deepEqual(
    decoded.medianBeats?.leads.map((lead) => [lead.name, [...lead.samples]]),
    medianLeads.map((lead) => [lead.name, [...lead.samples]]),
  );
  assert.deepEqual(samplesOf(decoded), samplesOf(record));
});

test("an 8-lead record stays 8 leads; leads the box derived are left out unless asked for", () => {
  const eight = syntheticLeads({ names: ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"] });
  const derived: EcgLead = {
    name: "III",
    samples: new Int32Array(1000),
    nanovoltsPerUnit: 2500,
    derived: true,
  };
  const record = syntheticRecord({}, [...eight, derived]);
  assert.deepEqual(
    decodeScpEcg(encodeScpEcg(record)).rhythm.leads.map((lead) => lead.name),
    ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"],
  );
  assert.equal(decodeScpEcg(encodeScpEcg(record, { includeDerivedLeads: true })).rhythm.leads.length, 9);
});

test("leads in different units share the finest unit, without losing a sample", () => {
  const leads = syntheticLeads({ names: ["I", "II"], nanovoltsPerUnit: 1000 });
  const coarse = {
    ...leads[1]!,
    samples: leads[1]!.samples.map((value) => Math.round(value / 5)),
    nanovoltsPerUnit: 5000,
  };
  const decoded = decodeScpEcg(encodeScpEcg(syntheticRecord({}, [leads[0]!, coarse])));
  assert.deepEqual(
    decoded.rhythm.leads.map((lead) => lead.nanovoltsPerUnit),
    [1000, 1000],
  );
  assert.deepEqual(
    [...decoded.rhythm.leads[1]!.samples],
    [...coarse.samples].map((value) => value * 5),
  );
});

test("values beyond 16 bits are stored in a coarser unit: same voltage within one new unit", () => {
  const samples = Int32Array.from({ length: 1000 }, (_, index) => Math.round(100000 * Math.sin(index / 50)));
  const decoded = decodeScpEcg(
    encodeScpEcg(syntheticRecord({}, [{ name: "II", samples, nanovoltsPerUnit: 100 }])),
  );
  const lead = decoded.rhythm.leads[0]!;
  assert.equal(lead.nanovoltsPerUnit, 400); // 100000 units need a factor of 4 to fit ±32767
  for (let index = 0; index < samples.length; index++) {
    assert.ok(Math.abs(lead.samples[index]! * 400 - samples[index]! * 100) <= 200, `sample ${index}`);
  }
});

test("a rate with no whole-microsecond interval (360 Hz → 2778 µs) reads back as 360 Hz", () => {
  const record = syntheticRecord({}, syntheticLeads({ names: ["I"], samplingFrequencyHz: 360 }));
  record.rhythm.samplingFrequencyHz = 360;
  assert.equal(decodeScpEcg(encodeScpEcg(record)).rhythm.samplingFrequencyHz, 360);
});

test("a lead longer than 65535 bytes: uncompressed is refused with a clear error, Huffman fits it", () => {
  const record = syntheticRecord({}, syntheticLeads({ names: ["I", "II"], seconds: 80 }));
  assert.throws(() => encodeScpEcg(record, { compression: "none" }), {
    code: SCP_ERROR_CODES.cannotEncode,
    message: /65535 per lead; Huffman compression would fit more/,
  });
  assert.deepEqual(samplesOf(decodeScpEcg(encodeScpEcg(record))), samplesOf(record));
});

test("a record without leads cannot be encoded", () => {
  assert.throws(() => encodeScpEcg(syntheticRecord({}, [])), { code: SCP_ERROR_CODES.cannotEncode });
});
