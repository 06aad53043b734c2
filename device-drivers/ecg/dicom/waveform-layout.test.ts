/**
 * Which SOP Class a record is written as: the 12-lead IOD's limits (13 channels in all, 16384
 * samples, 200–1000 Hz) and General ECG beyond them, tested at their edges.
 */
import assert from "node:assert/strict";
import test from "node:test";
import { STANDARD_12_LEADS } from "../ecg-record.ts";
import { DICOM_ECG_ERROR_CODES, DicomEcgError } from "./errors.ts";
import { synthetic12LeadRecord, syntheticWaveform } from "./test-support.ts";
import { layoutWaveforms, SOP_CLASS } from "./waveform-layout.ts";

const rhythmOf = (leads: readonly string[], samplingFrequencyHz: number, samples: number) =>
  syntheticWaveform({ leads, samplingFrequencyHz, seconds: samples / samplingFrequencyHz });

test("12 leads × 16384 samples is a 12-lead ECG; one sample more is General ECG", () => {
  const fits = layoutWaveforms(synthetic12LeadRecord({ rhythm: rhythmOf(STANDARD_12_LEADS, 1000, 16384) }));
  assert.equal(fits.sopClassUid, SOP_CLASS.twelveLeadEcg);
  assert.deepEqual(fits.notes, []);
  const over = layoutWaveforms(synthetic12LeadRecord({ rhythm: rhythmOf(STANDARD_12_LEADS, 1000, 16385) }));
  assert.equal(over.sopClassUid, SOP_CLASS.generalEcg);
  assert.equal(over.groups.length, 1, "the long rhythm stays one group");
  assert.equal(over.groups[0]?.sampleCount, 16385);
});

test("13 leads fit the 12-lead IOD, 14 do not", () => {
  const thirteen = [...STANDARD_12_LEADS, "V7"];
  assert.equal(
    layoutWaveforms(synthetic12LeadRecord({ rhythm: rhythmOf(thirteen, 500, 5000) })).sopClassUid,
    SOP_CLASS.twelveLeadEcg,
  );
  assert.equal(
    layoutWaveforms(synthetic12LeadRecord({ rhythm: rhythmOf([...thirteen, "V8"], 500, 5000) })).sopClassUid,
    SOP_CLASS.generalEcg,
  );
});

test("median beats of 12 leads next to a 12-lead rhythm exceed the 13-channel total: General ECG", () => {
  const layout = layoutWaveforms(
    synthetic12LeadRecord({ medianBeats: rhythmOf(STANDARD_12_LEADS, 500, 600) }),
  );
  assert.equal(layout.sopClassUid, SOP_CLASS.generalEcg);
  assert.deepEqual(
    layout.groups.map((group) => [group.label, group.originality, group.channels.length, group.sampleCount]),
    [
      ["RHYTHM", "ORIGINAL", 12, 5000],
      ["MEDIAN", "DERIVED", 12, 600],
    ],
  );
  assert.match(layout.notes.join("\n"), /24 channels in all \(at most 13\)/);
});

test("interleaving: sample s of channel c is at s × channels + c", () => {
  const rhythm = rhythmOf(["I", "II"], 500, 3);
  const layout = layoutWaveforms(synthetic12LeadRecord({ rhythm }));
  const [one, two] = rhythm.leads.map((lead) => Array.from(lead.samples));
  assert.deepEqual(Array.from(layout.groups[0]?.data ?? []), [
    one?.[0],
    two?.[0],
    one?.[1],
    two?.[1],
    one?.[2],
    two?.[2],
  ]);
});

test("more groups or channels than General ECG takes are refused, not cut", () => {
  const refused = (build: () => unknown) =>
    assert.throws(build, (error: unknown) => {
      return error instanceof DicomEcgError && error.code === DICOM_ECG_ERROR_CODES.unrepresentable;
    });
  // 3000 Hz → 3 phase groups each for rhythm and median beats: 6 groups, General ECG takes 4.
  refused(() =>
    layoutWaveforms(
      synthetic12LeadRecord({
        rhythm: rhythmOf(STANDARD_12_LEADS, 3000, 3000),
        medianBeats: rhythmOf(STANDARD_12_LEADS, 3000, 300),
      }),
    ),
  );
  const wide = Array.from({ length: 25 }, (_, index) => `C${index}`);
  refused(() => layoutWaveforms(synthetic12LeadRecord({ rhythm: rhythmOf(wide, 500, 500) })));
  // 4000 Hz without median beats: 4 phase groups of 1000 Hz still fit.
  const phased = layoutWaveforms(synthetic12LeadRecord({ rhythm: rhythmOf(STANDARD_12_LEADS, 4000, 4003) }));
  assert.deepEqual(
    phased.groups.map((group) => [
      group.label,
      group.samplingFrequency,
      group.sampleCount,
      group.channels[0]?.timeSkewSeconds,
    ]),
    [
      ["RHYTHM 1/4", "1000", 1001, "0"],
      ["RHYTHM 2/4", "1000", 1001, "0.00025"],
      ["RHYTHM 3/4", "1000", 1001, "0.0005"],
      ["RHYTHM 4/4", "1000", 1000, "0.00075"],
    ],
  );
});
