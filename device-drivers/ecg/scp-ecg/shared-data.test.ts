/**
 * The real SCP-ECG files in ../shared/data/ecg-scp (see its README): the ECG Toolkit sample
 * (Huffman + second differences, reference beats), a large raw record converted from a Contec cart,
 * and a Healforce export that only looks like SCP-ECG. Skipped, loudly, on a clone without them.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { XMLParser } from "fast-xml-parser";
import type { EcgLead, EcgRecord } from "../ecg-record.ts";
import { decodeScpEcg, decodeScpEcgDetailed } from "./decode.ts";
import { encodeScpEcg } from "./encode.ts";
import { SCP_ERROR_CODES } from "./errors.ts";
import { createScpEcgLineDecoder, SCP_GARBAGE } from "./line-decoder.ts";
import { sectionOffset, seededRandom, sharedDataDir } from "./test-support.ts";

const scpDir = join(sharedDataDir, "ecg-scp");
const aecgPath = join(sharedDataDir, "ecg-xml", "hl7aecg_Example_aECG.xml");
const files = {
  example: join(scpDir, "Example.scp"),
  contec: join(scpDir, "0000050.ECG.scp"),
  healforce: join(scpDir, "62.SCP"),
};
const absent = (path: string) =>
  existsSync(path)
    ? false
    : `SHARED DATA ABSENT: ${path} not found — real-file check skipped (see ../shared/data/README.md)`;
const read = (path: string) => new Uint8Array(readFileSync(path));
const lead = (record: EcgRecord, name: string): EcgLead => {
  const found = record.rhythm.leads.find((item) => item.name === name);
  assert.ok(found, `lead ${name}`);
  return found;
};

/** Largest |a − b| over two leads' samples. */
function largestDifference(a: ArrayLike<number>, b: (index: number) => number): number {
  let largest = 0;
  for (let index = 0; index < a.length; index++)
    largest = Math.max(largest, Math.abs((a[index] ?? 0) - b(index)));
  return largest;
}

/** Limb leads consistent with Einthoven/Goldberger (III = II − I, …) within `tolerance` units. */
function assertLimbLeadsConsistent(record: EcgRecord, tolerance: number): void {
  const I = lead(record, "I").samples;
  const II = lead(record, "II").samples;
  const at = (samples: Int32Array) => (index: number) => samples[index] ?? 0;
  assert.ok(
    largestDifference(lead(record, "III").samples, (k) => at(II)(k) - at(I)(k)) <= tolerance,
    "III = II − I",
  );
  assert.ok(
    largestDifference(lead(record, "aVR").samples, (k) => -(at(I)(k) + at(II)(k)) / 2) <= tolerance,
    "aVR",
  );
  assert.ok(
    largestDifference(lead(record, "aVL").samples, (k) => at(I)(k) - at(II)(k) / 2) <= tolerance,
    "aVL",
  );
  assert.ok(
    largestDifference(lead(record, "aVF").samples, (k) => at(II)(k) - at(I)(k) / 2) <= tolerance,
    "aVF",
  );
}

/** Every lead within ±5 mV and lead II with a visible ECG (peak to peak over 0.5 mV). */
function assertPlausibleAmplitudes(record: EcgRecord): void {
  for (const item of record.rhythm.leads) {
    for (const value of item.samples)
      assert.ok(Math.abs(value * item.nanovoltsPerUnit) <= 5_000_000, `${item.name} within ±5 mV`);
  }
  const II = lead(record, "II");
  const peakToPeak = (Math.max(...II.samples) - Math.min(...II.samples)) * II.nanovoltsPerUnit;
  assert.ok(peakToPeak > 500_000, `lead II peak to peak ${peakToPeak} nV`);
}

test("Example.scp: 12 leads × 5000 samples at 500 Hz, 2.5 µV units, patient and measurements", {
  skip: absent(files.example),
}, () => {
  const details = decodeScpEcgDetailed(read(files.example));
  const { record } = details;
  assert.deepEqual(details.sectionIds, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(record.source, { format: "scp-ecg", version: "2.0" });
  assert.equal(record.rhythm.samplingFrequencyHz, 500);
  assert.deepEqual(
    record.rhythm.leads.map((item) => item.name),
    ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6", "III", "aVR", "aVL", "aVF"],
  );
  for (const item of record.rhythm.leads) {
    assert.equal(item.samples.length, 5000);
    assert.equal(item.nanovoltsPerUnit, 2500);
  }
  assert.deepEqual(record.patient, { id: "SBJ-123", name: "Clark", birthDate: "19530508", sex: "M" });
  assert.equal(record.acquisition.model, "ELI250");
  assert.equal(record.acquisition.date, "20021122");
  assert.equal(record.acquisition.time, "091000");
  // The values the aECG version of the same recording annotates.
  assert.deepEqual(record.measurements, {
    prIntervalMs: 148,
    qrsDurationMs: 120,
    qtIntervalMs: 420,
    qtcIntervalMs: 443,
    pAxisDeg: 44,
    qrsAxisDeg: -61,
    tAxisDeg: 86,
  });
  assert.equal(record.medianBeats?.samplingFrequencyHz, 500);
  assert.deepEqual(
    record.medianBeats?.leads.map((item) => item.samples.length),
    Array(12).fill(599),
  );
  assert.equal(record.notes, undefined);
  // A mis-decoded Huffman stream would break these at once.
  assertLimbLeadsConsistent(record, 1);
  assertPlausibleAmplitudes(record);
});

test("Example.scp and the HL7 aECG example are the same recording: identical rhythm and median samples", {
  skip: absent(files.example) || absent(aecgPath),
}, () => {
  const record = decodeScpEcg(read(files.example));
  const parsed = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: "@",
    isArray: (name) => name === "component",
  }).parse(readFileSync(aecgPath, "utf8"));
  type Sequence = {
    code: { "@code": string };
    value: { scale?: { "@value": string }; digits?: string | number };
  };
  const digitsOf = (sequenceSet: { component: Array<{ sequence: Sequence }> }) =>
    sequenceSet.component
      .map((component) => component.sequence)
      .filter((sequence) => sequence.value.digits !== undefined)
      .map((sequence) => ({
        name: sequence.code["@code"].replace("MDC_ECG_LEAD_", "").replace(/^AV([RLF])$/, "aV$1"),
        scaleMicrovolts: Number(sequence.value.scale?.["@value"]),
        digits: String(sequence.value.digits).trim().split(/\s+/).map(Number),
      }));
  const series = parsed.AnnotatedECG.component[0].series;
  const rhythm = digitsOf(series.component[0].sequenceSet);
  const medians = digitsOf(series.derivation.derivedSeries.component[0].sequenceSet);
  assert.equal(rhythm.length, 12);
  assert.equal(medians.length, 12);
  for (const sequence of rhythm) {
    const decoded = lead(record, sequence.name);
    // Compared in µV: the aECG's scale against the SCP amplitude multiplier.
    assert.equal(sequence.scaleMicrovolts * 1000, decoded.nanovoltsPerUnit);
    assert.deepEqual([...decoded.samples], sequence.digits, `rhythm ${sequence.name}`);
  }
  for (const sequence of medians) {
    const decoded = record.medianBeats?.leads.find((item) => item.name === sequence.name);
    assert.deepEqual([...(decoded?.samples ?? [])], sequence.digits, `median ${sequence.name}`);
  }
});

test("Example.scp re-encoded: sections 5 and 6 come out byte for byte as the ECG Toolkit wrote them", {
  skip: absent(files.example),
}, () => {
  const original = read(files.example);
  const record = decodeScpEcg(original);
  const reencoded = encodeScpEcg(record);
  const body = (bytes: Uint8Array, id: number) => {
    const offset = sectionOffset(bytes, id);
    return bytes.subarray(
      offset + 16,
      offset + new DataView(bytes.buffer, bytes.byteOffset).getUint32(offset + 4, true),
    );
  };
  for (const id of [5, 6]) assert.deepEqual(body(reencoded, id), body(original, id), `section ${id}`);
  const again = decodeScpEcg(reencoded);
  assert.deepEqual(again.patient, record.patient);
  assert.deepEqual(again.measurements, record.measurements);
});

test("0000050.ECG.scp: raw 12 leads at 800 Hz, 5 µV units; the writer's 16-bit byte counts cut each lead at 32767 samples", {
  skip: absent(files.contec),
}, () => {
  const record = decodeScpEcg(read(files.contec));
  assert.equal(record.rhythm.samplingFrequencyHz, 800);
  assert.deepEqual(
    record.rhythm.leads.map((item) => item.name),
    ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"],
  );
  for (const item of record.rhythm.leads) {
    assert.equal(item.nanovoltsPerUnit, 5000);
    // Section 3 states 37855 samples, but 2-byte byte counts hold at most 65534 bytes = 32767 samples.
    assert.equal(item.samples.length, 32767);
  }
  assert.deepEqual(record.notes, [
    "section 6 is shorter than section 3 states: all 12 leads hold 32767 of the 37855 samples; the data ends there",
  ]);
  assert.equal(record.acquisition.model, "ECG90");
  assert.equal(record.acquisition.date, "20201116");
  assert.equal(record.patient.name, undefined);
  assertLimbLeadsConsistent(record, 1);
  assertPlausibleAmplitudes(record);
});

test("62.SCP (Healforce, not EN 1064) is rejected cleanly as not SCP-ECG", {
  skip: absent(files.healforce),
}, () => {
  const bytes = read(files.healforce);
  assert.throws(() => decodeScpEcg(bytes), { code: SCP_ERROR_CODES.notScp, message: /SCPECG/ });
  const decoder = createScpEcgLineDecoder();
  const events = [...decoder.push(bytes), ...decoder.end()];
  assert.ok(events.every((event) => event.kind === "discarded" && event.code === SCP_GARBAGE));
  assert.equal(
    events.reduce((sum, event) => sum + (event.kind === "discarded" ? event.byteCount : 0), 0),
    bytes.length,
  );
});

test("the real files played down a noisy line in random pieces: both SCP-ECG records arrive byte-exact, 62.SCP is noise", {
  skip: absent(files.example) || absent(files.contec) || absent(files.healforce),
}, () => {
  const example = read(files.example);
  const contec = read(files.contec);
  const random = seededRandom(62);
  const noise = (length: number) => Uint8Array.from({ length }, () => Math.floor(random() * 256));
  const parts = [noise(100), example, read(files.healforce), contec, noise(50)];
  const stream = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    stream.set(part, offset);
    offset += part.length;
  }
  const decoder = createScpEcgLineDecoder();
  const events = [];
  for (let at = 0; at < stream.length; ) {
    const size = 1 + Math.floor(random() * 4096);
    events.push(...decoder.push(stream.subarray(at, at + size)));
    at += size;
  }
  events.push(...decoder.end());
  const records = events.filter((event) => event.kind === "record");
  assert.deepEqual(
    records.map((event) => event.raw),
    [example, contec],
  );
  assert.ok(events.every((event) => event.kind !== "discarded" || event.code === SCP_GARBAGE));
});
