/**
 * The DICOM ECG writer on records generated here: each object is checked by dicom3tools' dciodvfy
 * (no errors, no warning we cannot explain), parsed by DCMTK's dcmdump, and read back by our reader
 * with the same samples (or within the stated rounding when a lead had to be rescaled).
 */
import assert from "node:assert/strict";
import test from "node:test";
import { withDerivedLimbLeads } from "../derive-leads.ts";
import type { EcgRecord, EcgWaveform } from "../ecg-record.ts";
import { INDEPENDENT_8_LEADS, STANDARD_12_LEADS } from "../ecg-record.ts";
import { ANNOTATION_GROUP, GAP_ANNOTATION_TEXT } from "./conventions.ts";
import { readPart10, TAG } from "./dcmjs.ts";
import { DICOM_ECG_ERROR_CODES, DicomEcgError } from "./errors.ts";
import { readDicomEcg } from "./read-dicom-ecg.ts";
import {
  DCIODVFY_MISSING,
  DCMDUMP_MISSING,
  dciodvfy,
  EXPLAINED_WARNINGS,
  hasTool,
  runOnFile,
  synthetic12LeadRecord,
  syntheticWaveform,
} from "./test-support.ts";
import { isValidUid } from "./uid.ts";
import { SOP_CLASS } from "./waveform-layout.ts";
import { buildDicomEcg, buildDicomEcgSet, type DicomEcgContext, writeDicomEcg } from "./write-dicom-ecg.ts";

const CONTEXT: DicomEcgContext = { createdAt: new Date("2025-03-14T01:31:00Z"), utcOffsetMinutes: 480 };

const MEASUREMENTS = {
  heartRateBpm: 72,
  rrIntervalMs: 833,
  prIntervalMs: 160,
  qrsDurationMs: 92,
  qtIntervalMs: 380,
  qtcIntervalMs: 417,
  pAxisDeg: 50,
  qrsAxisDeg: -15,
  tAxisDeg: 35,
};

/** The records every IOD check runs on: name, record, and the SOP Class it must be written as. */
const SCENARIOS: ReadonlyArray<{ name: string; record: () => EcgRecord; sopClass: string }> = [
  {
    name: "a 10-s 12-lead record at 500 Hz",
    record: () => synthetic12LeadRecord(),
    sopClass: SOP_CLASS.twelveLeadEcg,
  },
  {
    name: "an 8-lead record completed by withDerivedLimbLeads",
    record: () =>
      synthetic12LeadRecord({
        rhythm: withDerivedLimbLeads(
          syntheticWaveform({ leads: INDEPENDENT_8_LEADS, samplingFrequencyHz: 500, seconds: 10 }),
        ),
        notes: ["III, aVR, aVL and aVF derived from I and II by the gateway"],
      }),
    sopClass: SOP_CLASS.twelveLeadEcg,
  },
  {
    name: "a record with no patient data and no device identity (an acquisition module's stream)",
    record: () => ({
      source: { format: "ecg-stream" },
      patient: {},
      acquisition: {},
      rhythm: syntheticWaveform({ leads: STANDARD_12_LEADS, samplingFrequencyHz: 500, seconds: 10 }),
      gaps: [{ startSample: 2500, sampleCount: 250 }],
      notes: ["Record cut short: the line closed after 10 s"],
    }),
    sopClass: SOP_CLASS.twelveLeadEcg,
  },
  {
    name: "a Chinese patient name, institution and statements",
    record: () =>
      synthetic12LeadRecord({
        patient: { id: "门诊-0042", name: "张三", sex: "M", birthDate: "19580607" },
        acquisition: {
          ...synthetic12LeadRecord().acquisition,
          institution: "某某镇卫生院",
          operator: "李护士",
        },
        statements: ["窦性心律", "正常心电图"],
      }),
    sopClass: SOP_CLASS.twelveLeadEcg,
  },
  {
    name: "a 47-s record at 800 Hz (37855 samples, over the 12-lead limit)",
    record: () =>
      synthetic12LeadRecord({
        rhythm: syntheticWaveform({
          leads: STANDARD_12_LEADS,
          samplingFrequencyHz: 800,
          seconds: 37855 / 800,
          nanovoltsPerUnit: 5000,
        }),
      }),
    sopClass: SOP_CLASS.generalEcg,
  },
  {
    name: "a 15-lead record (12 + Frank X, Y, Z) at 1000 Hz",
    record: () =>
      synthetic12LeadRecord({
        rhythm: syntheticWaveform({
          leads: [...STANDARD_12_LEADS, "X", "Y", "Z"],
          samplingFrequencyHz: 1000,
          seconds: 12,
          nanovoltsPerUnit: 500,
        }),
      }),
    sopClass: SOP_CLASS.generalEcg,
  },
  {
    name: "median beats, measurements, statements and a gap",
    record: () =>
      synthetic12LeadRecord({
        medianBeats: syntheticWaveform({ leads: STANDARD_12_LEADS, samplingFrequencyHz: 500, seconds: 1.2 }),
        measurements: MEASUREMENTS,
        statements: ["Sinus rhythm", "Normal ECG"],
        gaps: [{ startSample: 1200, sampleCount: 75 }],
      }),
    sopClass: SOP_CLASS.generalEcg,
  },
  {
    name: "a 2000-Hz record with median beats and a gap (phase groups)",
    record: () =>
      synthetic12LeadRecord({
        rhythm: syntheticWaveform({ leads: STANDARD_12_LEADS, samplingFrequencyHz: 2000, seconds: 10.0005 }),
        medianBeats: syntheticWaveform({ leads: STANDARD_12_LEADS, samplingFrequencyHz: 2000, seconds: 1.2 }),
        gaps: [{ startSample: 1001, sampleCount: 40 }],
      }),
    sopClass: SOP_CLASS.generalEcg,
  },
  {
    name: "a 100-Hz record (PTB-XL low rate), upsampled",
    record: () =>
      synthetic12LeadRecord({
        rhythm: syntheticWaveform({
          leads: STANDARD_12_LEADS,
          samplingFrequencyHz: 100,
          seconds: 10,
          nanovoltsPerUnit: 1000,
        }),
      }),
    sopClass: SOP_CLASS.twelveLeadEcg,
  },
  {
    name: "leads beyond 16 bits (10 nV units), rescaled",
    record: () =>
      synthetic12LeadRecord({
        rhythm: syntheticWaveform({
          leads: STANDARD_12_LEADS,
          samplingFrequencyHz: 500,
          seconds: 10,
          nanovoltsPerUnit: 10,
        }),
      }),
    sopClass: SOP_CLASS.twelveLeadEcg,
  },
];

for (const scenario of SCENARIOS) {
  test(`${scenario.name}: written as the expected SOP Class, dciodvfy finds no error`, {
    skip: hasTool("dciodvfy") ? false : DCIODVFY_MISSING,
  }, () => {
    const written = buildDicomEcg(scenario.record(), CONTEXT);
    assert.equal(written.sopClassUid, scenario.sopClass);
    const result = dciodvfy(written.bytes, EXPLAINED_WARNINGS);
    assert.deepEqual(result.errors, [], result.output);
    assert.deepEqual(result.unexplainedWarnings, [], result.output);
    const iod = scenario.sopClass === SOP_CLASS.twelveLeadEcg ? "TwelveLeadECG" : "GeneralECG";
    assert.match(result.output, new RegExp(`^${iod}$`, "m"), "dciodvfy validated against the IOD we meant");
  });

  test(`${scenario.name}: dcmdump parses it`, { skip: hasTool("dcmdump") ? false : DCMDUMP_MISSING }, () => {
    const result = runOnFile("dcmdump", ["-q", "+L"], writeDicomEcg(scenario.record(), CONTEXT));
    assert.equal(result.status, 0, result.output);
    assert.match(result.output, /\(5400,0100\) SQ/);
    assert.doesNotMatch(result.output, /^E:/m);
  });
}

function assertSameSamples(actual: EcgWaveform, expected: EcgWaveform): void {
  assert.equal(actual.samplingFrequencyHz, expected.samplingFrequencyHz);
  assert.deepEqual(
    actual.leads.map((lead) => lead.name),
    expected.leads.map((lead) => lead.name),
  );
  expected.leads.forEach((lead, index) => {
    const back = actual.leads[index];
    assert.ok(back);
    assert.equal(back.nanovoltsPerUnit, lead.nanovoltsPerUnit, `lead ${lead.name} unit size`);
    assert.deepEqual(back.samples, lead.samples, `lead ${lead.name} samples`);
  });
}

test("round trip: a 12-lead record comes back with the same samples, patient and device data", () => {
  const record = synthetic12LeadRecord();
  const back = readDicomEcg(writeDicomEcg(record, CONTEXT));
  assertSameSamples(back.rhythm, record.rhythm);
  assert.deepEqual(back.patient, record.patient);
  assert.deepEqual(back.acquisition, record.acquisition);
  assert.equal(back.source.format, "dicom");
  assert.equal(back.medianBeats, undefined);
});

test("round trip: derived limb leads stay marked derived, coded as the lead itself and labelled so", () => {
  const rhythm = withDerivedLimbLeads(
    syntheticWaveform({ leads: INDEPENDENT_8_LEADS, samplingFrequencyHz: 500, seconds: 10 }),
  );
  const bytes = writeDicomEcg(synthetic12LeadRecord({ rhythm }), CONTEXT);
  const back = readDicomEcg(bytes);
  assertSameSamples(back.rhythm, rhythm);
  assert.deepEqual(
    back.rhythm.leads.filter((lead) => lead.derived).map((lead) => lead.name),
    ["III", "aVR", "aVL", "aVF"],
  );
  const channels = readPart10(bytes).dataset[TAG.WaveformSequence]?.Value?.[0] as Record<
    string,
    { Value?: unknown[] }
  >;
  const definitions = channels[TAG.ChannelDefinitionSequence]?.Value as Array<
    Record<string, { Value?: unknown[] }>
  >;
  const third = definitions[2];
  assert.ok(third);
  assert.equal(third[TAG.ChannelLabel]?.Value?.[0], "III (derived)");
  const source = third[TAG.ChannelSourceSequence]?.Value?.[0] as Record<string, { Value?: unknown[] }>;
  assert.equal(source[TAG.CodeValue]?.Value?.[0], "2:61");
  assert.equal(source[TAG.CodingSchemeDesignator]?.Value?.[0], "MDC");
  assert.ok(third[TAG.ChannelDerivationDescription], "derivation described");
});

test("Specific Character Set is ISO_IR 192 when text is Chinese, and absent when all text is ASCII", () => {
  const chinese = synthetic12LeadRecord({ patient: { name: "张三", id: "A1" }, statements: ["窦性心律"] });
  const written = buildDicomEcg(chinese, CONTEXT);
  const { dataset } = readPart10(written.bytes);
  assert.deepEqual(dataset[TAG.SpecificCharacterSet]?._rawValue, ["ISO_IR 192"]);
  const back = readDicomEcg(written.bytes);
  assert.equal(back.patient.name, "张三");
  assert.deepEqual(back.statements, ["窦性心律"]);
  // A caret-less PN is all family name; the writer makes that explicit (validators call "张三" the retired free form).
  assert.equal(written.attributes.patientName, "张三^");

  const ascii = readPart10(writeDicomEcg(synthetic12LeadRecord(), CONTEXT)).dataset;
  assert.equal(ascii[TAG.SpecificCharacterSet], undefined);
});

test("round trip: a 47-s record at 800 Hz is one General ECG group of 37855 samples, unchanged", () => {
  const rhythm = syntheticWaveform({
    leads: STANDARD_12_LEADS,
    samplingFrequencyHz: 800,
    seconds: 37855 / 800,
    nanovoltsPerUnit: 5000,
  });
  const written = buildDicomEcg(synthetic12LeadRecord({ rhythm }), CONTEXT);
  assert.equal(written.sopClassUid, SOP_CLASS.generalEcg);
  assert.ok(written.notes.some((note) => note.includes("37855 samples per channel (at most 16384)")));
  assertSameSamples(readDicomEcg(written.bytes).rhythm, rhythm);
});

test("round trip: median beats, measurements, statements and gaps", () => {
  const record = synthetic12LeadRecord({
    medianBeats: syntheticWaveform({ leads: STANDARD_12_LEADS, samplingFrequencyHz: 500, seconds: 1.2 }),
    measurements: MEASUREMENTS,
    statements: ["Sinus rhythm", "Normal ECG"],
    gaps: [{ startSample: 1200, sampleCount: 75 }],
    notes: ["Record assembled from the stream"],
  });
  const bytes = writeDicomEcg(record, CONTEXT);
  const back = readDicomEcg(bytes);
  assertSameSamples(back.rhythm, record.rhythm);
  assert.ok(back.medianBeats && record.medianBeats);
  assertSameSamples(back.medianBeats, record.medianBeats);
  assert.deepEqual(back.measurements, MEASUREMENTS);
  assert.deepEqual(back.statements, record.statements);
  assert.deepEqual(back.gaps, record.gaps);
  assert.ok(back.notes?.includes("Record assembled from the stream"));

  const { dataset } = readPart10(bytes);
  const groups = dataset[TAG.WaveformSequence]?.Value as Array<Record<string, { Value?: unknown[] }>>;
  assert.deepEqual(
    groups.map((group) => [
      group[TAG.MultiplexGroupLabel]?.Value?.[0],
      group[TAG.WaveformOriginality]?.Value?.[0],
    ]),
    [
      ["RHYTHM", "ORIGINAL"],
      ["MEDIAN", "DERIVED"],
    ],
  );
  const annotations = dataset[TAG.WaveformAnnotationSequence]?.Value as Array<
    Record<string, { Value?: unknown[] }>
  >;
  const gap = annotations.find(
    (item) => item[TAG.AnnotationGroupNumber]?.Value?.[0] === ANNOTATION_GROUP.gaps,
  );
  assert.ok(gap);
  assert.equal(gap[TAG.UnformattedTextValue]?.Value?.[0], GAP_ANNOTATION_TEXT);
  assert.deepEqual(gap[TAG.ReferencedSamplePositions]?.Value, [1201, 1275]);
  assert.equal(gap[TAG.TemporalRangeType]?.Value?.[0], "SEGMENT");
});

test("round trip: 2000 Hz is split into phase groups of 1000 Hz and read back whole; a gap widens to whole frames", () => {
  const record = synthetic12LeadRecord({
    rhythm: syntheticWaveform({ leads: STANDARD_12_LEADS, samplingFrequencyHz: 2000, seconds: 10.0005 }),
    gaps: [{ startSample: 1001, sampleCount: 40 }],
  });
  const written = buildDicomEcg(record, CONTEXT);
  const groups = readPart10(written.bytes).dataset[TAG.WaveformSequence]?.Value as Array<
    Record<string, { Value?: unknown[] }>
  >;
  assert.deepEqual(
    groups.map((group) => [
      group[TAG.MultiplexGroupLabel]?.Value?.[0],
      group[TAG.SamplingFrequency]?.Value?.[0],
      group[TAG.NumberOfWaveformSamples]?.Value?.[0],
    ]),
    [
      ["RHYTHM 1/2", 1000, 10001],
      ["RHYTHM 2/2", 1000, 10000],
    ],
  );
  const back = readDicomEcg(written.bytes);
  assertSameSamples(back.rhythm, record.rhythm);
  // Samples 1001–1040 lie in frames 500–520 of the phase groups: read back as 1000–1041.
  assert.deepEqual(back.gaps, [{ startSample: 1000, sampleCount: 42 }]);
});

test("100 Hz is stored at 200 Hz with every other sample an original", () => {
  const rhythm = syntheticWaveform({
    leads: STANDARD_12_LEADS,
    samplingFrequencyHz: 100,
    seconds: 10,
    nanovoltsPerUnit: 1000,
  });
  const written = buildDicomEcg(synthetic12LeadRecord({ rhythm }), CONTEXT);
  assert.ok(written.notes.some((note) => note.includes("below the 200 Hz")));
  const back = readDicomEcg(written.bytes).rhythm;
  assert.equal(back.samplingFrequencyHz, 200);
  rhythm.leads.forEach((lead, index) => {
    const upsampled = back.leads[index]?.samples;
    assert.ok(upsampled);
    assert.equal(upsampled.length, lead.samples.length * 2);
    assert.deepEqual(
      upsampled.filter((_, position) => position % 2 === 0),
      lead.samples,
    );
  });
});

test("leads beyond 16 bits are rescaled with the least loss, within the stated rounding, and noted", () => {
  const rhythm = syntheticWaveform({
    leads: STANDARD_12_LEADS,
    samplingFrequencyHz: 500,
    seconds: 10,
    nanovoltsPerUnit: 10,
  });
  const written = buildDicomEcg(synthetic12LeadRecord({ rhythm }), CONTEXT);
  const back = readDicomEcg(written.bytes);
  rhythm.leads.forEach((lead, index) => {
    const read = back.rhythm.leads[index];
    assert.ok(read);
    const peak = lead.samples.reduce((max, value) => Math.max(max, Math.abs(value)), 0);
    if (peak <= 32767) {
      assert.deepEqual(read.samples, lead.samples, `lead ${lead.name} fitted, stored exactly`);
      return;
    }
    assert.ok(read.nanovoltsPerUnit > lead.nanovoltsPerUnit);
    // Least loss: the new unit is the smallest that fits, to the 8 digits the sensitivity is written with.
    assert.ok(read.nanovoltsPerUnit <= ((lead.nanovoltsPerUnit * peak) / 32767) * (1 + 1e-7));
    const halfUnitNv = read.nanovoltsPerUnit / 2;
    lead.samples.forEach((value, position) => {
      const error = Math.abs(
        (read.samples[position] ?? 0) * read.nanovoltsPerUnit - value * lead.nanovoltsPerUnit,
      );
      assert.ok(error <= halfUnitNv + 1e-6, `lead ${lead.name} sample ${position} off by ${error} nV`);
    });
    assert.ok(
      back.notes?.some((note) => note.startsWith(`Rhythm, lead ${lead.name}: values beyond 16 bits`)),
    );
  });
});

test("the box's registration overrides the cart's patient data, and links the ECG to the scheduled step", () => {
  const context: DicomEcgContext = {
    ...CONTEXT,
    studyInstanceUid: "1.2.3.4.5",
    seriesInstanceUid: "1.2.3.4.5.6",
    sopInstanceUid: "1.2.3.4.5.6.7",
    patientId: "REG-9",
    patientName: "王^小明",
    patientSex: "M",
    patientBirthDate: "19800101",
    accessionNumber: "ACC-77",
    requestedProcedureId: "RP-1",
    scheduledProcedureStepId: "SPS-1",
    institutionName: "县医院",
    stationName: "DXGATE-01",
  };
  const written = buildDicomEcg(synthetic12LeadRecord(), context);
  assert.deepEqual(
    [written.studyInstanceUid, written.seriesInstanceUid, written.sopInstanceUid],
    ["1.2.3.4.5", "1.2.3.4.5.6", "1.2.3.4.5.6.7"],
  );
  const back = readDicomEcg(written.bytes);
  assert.deepEqual(
    [back.patient.id, back.patient.name, back.patient.sex, back.patient.birthDate],
    ["REG-9", "王^小明", "M", "19800101"],
  );
  assert.equal(back.patient.age, "055Y", "what the registration does not override stays the cart's");
  assert.equal(back.acquisition.accessionNumber, "ACC-77");
  assert.equal(back.acquisition.institution, "县医院");
  const { dataset } = readPart10(written.bytes);
  assert.equal(dataset[TAG.StationName]?.Value?.[0], "DXGATE-01");
  assert.equal(dataset[TAG.StudyID]?.Value?.[0], "RP-1");
  const request = dataset[TAG.RequestAttributesSequence]?.Value?.[0] as Record<string, { Value?: unknown[] }>;
  assert.equal(request[TAG.RequestedProcedureID]?.Value?.[0], "RP-1");
  assert.equal(request[TAG.ScheduledProcedureStepID]?.Value?.[0], "SPS-1");
  assert.equal(request[TAG.AccessionNumber]?.Value?.[0], "ACC-77");
  assert.deepEqual(written.attributes, {
    studyInstanceUid: "1.2.3.4.5",
    seriesInstanceUid: "1.2.3.4.5.6",
    sopInstanceUid: "1.2.3.4.5.6.7",
    sopClassUid: SOP_CLASS.twelveLeadEcg,
    transferSyntaxUid: "1.2.840.10008.1.2.1",
    modality: "ECG",
    patientId: "REG-9",
    patientName: "王^小明",
    patientSex: "M",
    patientBirthDate: "19800101",
    patientAge: "055Y",
    studyDate: "20250314",
    studyTime: "093015",
    studyDescription: "ECG",
    accessionNumber: "ACC-77",
  });
});

test("creation time is the box's local time with its offset; the device's acquisition time is kept", () => {
  const { dataset, meta } = readPart10(writeDicomEcg(synthetic12LeadRecord(), CONTEXT));
  assert.equal(dataset[TAG.InstanceCreationDate]?.Value?.[0], "20250314");
  assert.equal(dataset[TAG.InstanceCreationTime]?.Value?.[0], "093100");
  assert.equal(dataset[TAG.TimezoneOffsetFromUTC]?.Value?.[0], "+0800");
  assert.equal(dataset[TAG.AcquisitionDateTime]?.Value?.[0], "20250314093015");
  assert.equal(dataset[TAG.ContentTime]?.Value?.[0], "093015");
  assert.equal(meta[TAG.ImplementationClassUID]?.Value?.[0], "2.25.187729745405491397044516678879301827909");
  assert.equal(meta[TAG.ImplementationVersionName]?.Value?.[0], "DXGATE_010");
  assert.equal(meta[TAG.TransferSyntaxUID]?.Value?.[0], "1.2.840.10008.1.2.1");
});

test("without a device acquisition time, the receive time is used and the object says so", () => {
  const record = synthetic12LeadRecord();
  record.acquisition = { manufacturer: "Test Carts Ltd" };
  const written = buildDicomEcg(record, CONTEXT);
  const back = readDicomEcg(written.bytes);
  assert.deepEqual([back.acquisition.date, back.acquisition.time], ["20250314", "093100"]);
  assert.ok(back.notes?.some((note) => note.includes("receive time is used")));
});

test("generated UIDs are 2.25 UUID-derived, valid and distinct", () => {
  const first = buildDicomEcg(synthetic12LeadRecord(), CONTEXT);
  const second = buildDicomEcg(synthetic12LeadRecord(), CONTEXT);
  for (const uid of [first.studyInstanceUid, first.seriesInstanceUid, first.sopInstanceUid]) {
    assert.match(uid, /^2\.25\.[1-9]\d{0,38}$/);
    assert.ok(isValidUid(uid));
  }
  assert.notEqual(first.sopInstanceUid, second.sopInstanceUid);
  assert.notEqual(first.studyInstanceUid, first.seriesInstanceUid);
});

test("records the IODs cannot hold, or that contradict themselves, are refused with stable codes", () => {
  const refuses = (record: EcgRecord, code: string, context: DicomEcgContext = CONTEXT) =>
    assert.throws(
      () => writeDicomEcg(record, context),
      (error: unknown) => error instanceof DicomEcgError && error.code === code,
    );
  const wide = Array.from({ length: 25 }, (_, index) => `C${index + 1}`);
  refuses(
    synthetic12LeadRecord({
      rhythm: syntheticWaveform({ leads: wide, samplingFrequencyHz: 500, seconds: 1 }),
    }),
    DICOM_ECG_ERROR_CODES.unrepresentable,
  );
  refuses(
    synthetic12LeadRecord({ rhythm: { samplingFrequencyHz: 500, leads: [] } }),
    DICOM_ECG_ERROR_CODES.invalidRecord,
  );
  const uneven = synthetic12LeadRecord();
  const first = uneven.rhythm.leads[0];
  assert.ok(first);
  first.samples = first.samples.subarray(0, 100);
  refuses(uneven, DICOM_ECG_ERROR_CODES.invalidRecord);
  refuses(
    synthetic12LeadRecord({ rhythm: { ...synthetic12LeadRecord().rhythm, samplingFrequencyHz: 0 } }),
    DICOM_ECG_ERROR_CODES.invalidRecord,
  );
  refuses(synthetic12LeadRecord(), DICOM_ECG_ERROR_CODES.invalidContext, { sopInstanceUid: "1.2.03" });
  refuses(synthetic12LeadRecord(), DICOM_ECG_ERROR_CODES.invalidContext, { patientBirthDate: "1980-01-01" });
  refuses(synthetic12LeadRecord(), DICOM_ECG_ERROR_CODES.invalidContext, { utcOffsetMinutes: 480.5 });
});

test("a cart record with median beats becomes a 12-Lead ECG instance and a median-beat instance in one series", (t) => {
  const record = synthetic12LeadRecord({
    medianBeats: syntheticWaveform({ leads: STANDARD_12_LEADS, samplingFrequencyHz: 500, seconds: 1.2 }),
    measurements: MEASUREMENTS,
    statements: ["Sinus rhythm"],
  });
  const [rhythm, medians, ...rest] = buildDicomEcgSet(record, CONTEXT);
  assert.ok(rhythm && medians);
  assert.equal(rest.length, 0);
  assert.equal(rhythm.sopClassUid, SOP_CLASS.twelveLeadEcg);
  assert.equal(medians.sopClassUid, SOP_CLASS.generalEcg);
  assert.equal(medians.seriesInstanceUid, rhythm.seriesInstanceUid);
  assert.equal(medians.studyInstanceUid, rhythm.studyInstanceUid);
  assert.notEqual(medians.sopInstanceUid, rhythm.sopInstanceUid);

  const back = readDicomEcg(rhythm.bytes);
  assertSameSamples(back.rhythm, record.rhythm);
  assert.equal(back.medianBeats, undefined);
  assert.deepEqual(back.measurements, MEASUREMENTS);

  const { dataset } = readPart10(medians.bytes);
  const groups = dataset[TAG.WaveformSequence]?.Value as Array<Record<string, { Value?: unknown[] }>>;
  assert.equal(groups.length, 1);
  assert.deepEqual(groups[0]?.[TAG.MultiplexGroupLabel]?.Value, ["MEDIAN"]);
  assert.deepEqual(groups[0]?.[TAG.WaveformOriginality]?.Value, ["DERIVED"]);
  assert.equal(Number(dataset[TAG.InstanceNumber]?.Value?.[0]), 2);

  // Given the rhythm's UID, the same record gives the same two UIDs again (a resend replaces).
  const fixed = {
    ...CONTEXT,
    sopInstanceUid: "2.25.1234",
    seriesInstanceUid: "2.25.5",
    studyInstanceUid: "2.25.6",
  };
  const once = buildDicomEcgSet(record, fixed).map((instance) => instance.sopInstanceUid);
  const twice = buildDicomEcgSet(record, fixed).map((instance) => instance.sopInstanceUid);
  assert.deepEqual(once, twice);
  assert.equal(once[0], "2.25.1234");
  assert.ok(isValidUid(once[1] ?? "") && once[1] !== once[0]);

  // Without median beats, or with a rhythm too long for the 12-lead IOD, it stays one instance.
  assert.equal(buildDicomEcgSet(synthetic12LeadRecord(), CONTEXT).length, 1);
  const long = synthetic12LeadRecord({
    rhythm: syntheticWaveform({ leads: STANDARD_12_LEADS, samplingFrequencyHz: 500, seconds: 40 }),
    medianBeats: record.medianBeats,
  });
  const [single, ...none] = buildDicomEcgSet(long, CONTEXT);
  assert.equal(none.length, 0);
  assert.equal(single?.sopClassUid, SOP_CLASS.generalEcg);

  if (!hasTool("dciodvfy")) {
    t.skip(DCIODVFY_MISSING);
    return;
  }
  for (const instance of [rhythm, medians]) {
    const verdict = dciodvfy(instance.bytes, EXPLAINED_WARNINGS);
    assert.deepEqual(verdict.errors, [], verdict.output);
    assert.deepEqual(verdict.unexplainedWarnings, [], verdict.output);
  }
});
