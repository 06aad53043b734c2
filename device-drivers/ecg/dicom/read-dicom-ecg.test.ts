/**
 * The DICOM ECG reader: on the real Mortara ELI 250 object from ../shared/data (skipped loudly when
 * the corpus is absent), and on objects written here and then altered the way other writers differ
 * (Implicit VR, a channel baseline, GBK text without a character set, not an ECG at all).
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import test from "node:test";
import { STANDARD_12_LEADS } from "../ecg-record.ts";
import { type DcmjsDataset, readPart10, TAG, writePart10 } from "./dcmjs.ts";
import { DICOM_ECG_ERROR_CODES, DicomEcgError } from "./errors.ts";
import { readDicomEcg } from "./read-dicom-ecg.ts";
import {
  asImplicitVrLittleEndian,
  DCIODVFY_MISSING,
  dciodvfy,
  EXPLAINED_WARNINGS,
  hasTool,
  MORTARA_ECG,
  synthetic12LeadRecord,
  syntheticWaveform,
} from "./test-support.ts";
import { SOP_CLASS } from "./waveform-layout.ts";
import { buildDicomEcg, writeDicomEcg } from "./write-dicom-ecg.ts";

const CONTEXT = { createdAt: new Date("2025-03-14T01:31:00Z"), utcOffsetMinutes: 480 };
const MORTARA_MISSING = existsSync(MORTARA_ECG)
  ? false
  : `${MORTARA_ECG} is absent (../shared/data not checked out): the real-file tests are SKIPPED`;

function mortara(): Uint8Array {
  return new Uint8Array(readFileSync(MORTARA_ECG));
}

test("the Mortara ELI 250 object: 12 leads × 10000 at 1000 Hz, median beats, measurements, statements, patient", {
  skip: MORTARA_MISSING,
}, () => {
  const record = readDicomEcg(mortara());
  assert.equal(record.rhythm.samplingFrequencyHz, 1000);
  assert.deepEqual(
    record.rhythm.leads.map((lead) => lead.name),
    [...STANDARD_12_LEADS],
  );
  for (const lead of record.rhythm.leads) {
    assert.equal(lead.samples.length, 10000);
    assert.equal(lead.nanovoltsPerUnit, 1250, "1.25 µV × correction 1");
    assert.equal(lead.derived, undefined);
  }
  assert.ok(record.medianBeats);
  assert.equal(record.medianBeats.samplingFrequencyHz, 1000);
  assert.equal(record.medianBeats.leads.length, 12);
  assert.equal(record.medianBeats.leads[0]?.samples.length, 1200);
  // The first samples of lead I as dcmdump shows them (0050\005a\000a… is I, II, III of sample 0).
  assert.deepEqual(
    [
      record.rhythm.leads[0]?.samples[0],
      record.rhythm.leads[1]?.samples[0],
      record.rhythm.leads[2]?.samples[0],
    ],
    [0x50, 0x5a, 0x0a],
  );
  assert.deepEqual(record.measurements, {
    rrIntervalMs: 982,
    prIntervalMs: 161,
    qrsDurationMs: 75,
    qtIntervalMs: 368,
    qtcIntervalMs: 370,
    pAxisDeg: 74,
    qrsAxisDeg: 52,
    tAxisDeg: 57,
  });
  assert.deepEqual(record.statements, ["RITMO SINUSALE", "ECG NORMALE"]);
  assert.deepEqual(record.patient, {
    id: "642341",
    name: "Anonymous",
    sex: "F",
    birthDate: "19710123",
    age: "042Y",
  });
  assert.equal(record.acquisition.manufacturer, "Mortara Instrument, Inc.");
  assert.equal(record.acquisition.model, "el250");
  assert.deepEqual([record.acquisition.date, record.acquisition.time], ["20130125", "105919"]);
  assert.deepEqual([record.acquisition.highPassHz, record.acquisition.lowPassHz], [0.05, 300]);
  assert.equal(record.acquisition.notchHz, undefined, "a notch of 0 means no notch filter");
});

test("the Mortara object re-encoded in Implicit VR Little Endian reads the same", {
  skip: MORTARA_MISSING,
}, () => {
  const explicit = readDicomEcg(mortara());
  const implicit = readDicomEcg(asImplicitVrLittleEndian(mortara()));
  assert.deepEqual(implicit, explicit);
});

test("write(read(Mortara)) keeps every sample, the median beats, measurements, statements and patient", {
  skip: MORTARA_MISSING,
}, () => {
  const original = readDicomEcg(mortara());
  const written = buildDicomEcg(original, CONTEXT);
  // 12 rhythm + 12 median channels exceed the 12-lead IOD's 13-channel total: General ECG.
  assert.equal(written.sopClassUid, SOP_CLASS.generalEcg);
  const again = readDicomEcg(written.bytes);
  assert.deepEqual(again.rhythm, original.rhythm);
  assert.deepEqual(again.medianBeats, original.medianBeats);
  assert.deepEqual(again.measurements, original.measurements);
  assert.deepEqual(again.statements, original.statements);
  assert.deepEqual(again.patient, original.patient);
  assert.deepEqual(again.acquisition, original.acquisition);
});

test("write(read(Mortara)) passes dciodvfy", {
  skip: MORTARA_MISSING || (hasTool("dciodvfy") ? false : DCIODVFY_MISSING),
}, () => {
  const result = dciodvfy(writeDicomEcg(readDicomEcg(mortara()), CONTEXT), EXPLAINED_WARNINGS);
  assert.deepEqual(result.errors, [], result.output);
  assert.deepEqual(result.unexplainedWarnings, [], result.output);
  assert.match(result.output, /^GeneralECG$/m);
});

test("an object of ours re-encoded in Implicit VR Little Endian reads the same as the original", () => {
  const bytes = writeDicomEcg(
    synthetic12LeadRecord({
      medianBeats: syntheticWaveform({ leads: STANDARD_12_LEADS, samplingFrequencyHz: 500, seconds: 1 }),
      measurements: { heartRateBpm: 70, qtcIntervalMs: 400 },
      statements: ["Sinus rhythm"],
    }),
    CONTEXT,
  );
  const implicit = asImplicitVrLittleEndian(bytes);
  assert.equal(readPart10(implicit).meta[TAG.TransferSyntaxUID]?.Value?.[0], "1.2.840.10008.1.2");
  assert.deepEqual(readDicomEcg(implicit), readDicomEcg(bytes));
});

/** Rewrite our own object with `change` applied to its dcmjs dataset. */
function altered(bytes: Uint8Array, change: (dataset: DcmjsDataset) => void): Uint8Array {
  const { meta, dataset } = readPart10(bytes);
  change(dataset);
  return writePart10(meta, dataset);
}

function firstChannel(dataset: DcmjsDataset): DcmjsDataset {
  const group = dataset[TAG.WaveformSequence]?.Value?.[0] as DcmjsDataset;
  return group[TAG.ChannelDefinitionSequence]?.Value?.[0] as DcmjsDataset;
}

test("a Channel Baseline (in sensitivity units) becomes an offset of every sample of that lead", () => {
  const record = synthetic12LeadRecord();
  const bytes = altered(writeDicomEcg(record, CONTEXT), (dataset) => {
    // 25 µV at 2.5 µV per unit: stored 0 is +10 units.
    firstChannel(dataset)[TAG.ChannelBaseline] = { vr: "DS", Value: ["25"] };
  });
  const back = readDicomEcg(bytes);
  const original = record.rhythm.leads[0]?.samples ?? new Int32Array();
  assert.deepEqual(
    back.rhythm.leads[0]?.samples,
    original.map((value) => value + 10),
  );
  assert.deepEqual(back.rhythm.leads[1]?.samples, record.rhythm.leads[1]?.samples, "other leads untouched");
});

test("sensitivity in mV with a correction factor gives the unit size in nV", () => {
  const bytes = altered(writeDicomEcg(synthetic12LeadRecord(), CONTEXT), (dataset) => {
    const channel = firstChannel(dataset);
    channel[TAG.ChannelSensitivity] = { vr: "DS", Value: ["0.005"] };
    channel[TAG.ChannelSensitivityCorrectionFactor] = { vr: "DS", Value: ["0.98"] };
    const units = channel[TAG.ChannelSensitivityUnitsSequence]?.Value?.[0] as DcmjsDataset;
    units[TAG.CodeValue] = { vr: "SH", Value: ["mV"] };
    units[TAG.CodeMeaning] = { vr: "LO", Value: ["millivolt"] };
  });
  assert.equal(readDicomEcg(bytes).rhythm.leads[0]?.nanovoltsPerUnit, 4900);
});

test("leads coded with the SCPECG scheme of older editions, or labelled only, get their names", () => {
  const bytes = altered(writeDicomEcg(synthetic12LeadRecord(), CONTEXT), (dataset) => {
    const group = dataset[TAG.WaveformSequence]?.Value?.[0] as DcmjsDataset;
    const channels = group[TAG.ChannelDefinitionSequence]?.Value as DcmjsDataset[];
    const aVR = channels[3] as DcmjsDataset;
    aVR[TAG.ChannelSourceSequence] = {
      vr: "SQ",
      Value: [
        {
          [TAG.CodeValue]: { vr: "SH", Value: ["5.6.3-9-62"] },
          [TAG.CodingSchemeDesignator]: { vr: "SH", Value: ["SCPECG"] },
          [TAG.CodeMeaning]: { vr: "LO", Value: ["Lead aVR"] },
        },
      ],
    };
    const v1 = channels[6] as DcmjsDataset;
    v1[TAG.ChannelSourceSequence] = {
      vr: "SQ",
      Value: [
        {
          [TAG.CodeValue]: { vr: "SH", Value: ["99:1"] },
          [TAG.CodingSchemeDesignator]: { vr: "SH", Value: ["99LOCAL"] },
          [TAG.CodeMeaning]: { vr: "LO", Value: ["first chest electrode"] },
        },
      ],
    };
    v1[TAG.ChannelLabel] = { vr: "SH", Value: ["v1"] };
  });
  const names = readDicomEcg(bytes).rhythm.leads.map((lead) => lead.name);
  assert.deepEqual(names, [...STANDARD_12_LEADS]);
});

test("a patient name in GBK without a Specific Character Set is read as Chinese", () => {
  // Write an ASCII placeholder of the same byte length, then put GBK bytes in its place, as a
  // Chinese cart that declares nothing would.
  const bytes = writeDicomEcg(synthetic12LeadRecord({ patient: { name: "QQQQ^", id: "X" } }), CONTEXT);
  const placeholder = new TextEncoder().encode("QQQQ^");
  const at = Buffer.from(bytes).indexOf(Buffer.from(placeholder));
  assert.ok(at > 0);
  bytes.set([0xd5, 0xc5, 0xc8, 0xfd], at); // 张三 in GBK
  assert.equal(readPart10(bytes).dataset[TAG.SpecificCharacterSet], undefined);
  assert.equal(readDicomEcg(bytes).patient.name, "张三");
});

test("bytes that are not DICOM, and DICOM that is not a waveform, are refused with stable codes", () => {
  const refuses = (bytes: Uint8Array, code: string) =>
    assert.throws(
      () => readDicomEcg(bytes),
      (error: unknown) => error instanceof DicomEcgError && error.code === code,
    );
  refuses(new TextEncoder().encode("MSH|^~\\&|not dicom at all"), DICOM_ECG_ERROR_CODES.notDicom);
  const ecg = writeDicomEcg(synthetic12LeadRecord(), CONTEXT);
  refuses(ecg.subarray(0, ecg.length - 5000), DICOM_ECG_ERROR_CODES.notDicom);
  refuses(
    altered(ecg, (dataset) => {
      delete dataset[TAG.WaveformSequence];
    }),
    DICOM_ECG_ERROR_CODES.notEcg,
  );
  refuses(
    altered(ecg, (dataset) => {
      const group = dataset[TAG.WaveformSequence]?.Value?.[0] as DcmjsDataset;
      group[TAG.WaveformSampleInterpretation] = { vr: "CS", Value: ["UB"] };
    }),
    DICOM_ECG_ERROR_CODES.unsupported,
  );
  refuses(
    altered(ecg, (dataset) => {
      const group = dataset[TAG.WaveformSequence]?.Value?.[0] as DcmjsDataset;
      group[TAG.NumberOfWaveformSamples] = { vr: "UL", Value: [6000] };
    }),
    DICOM_ECG_ERROR_CODES.unsupported,
  );
});
