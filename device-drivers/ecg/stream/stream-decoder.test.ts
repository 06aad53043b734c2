import assert from "node:assert/strict";
import { test } from "node:test";
import { withDerivedLimbLeads } from "../derive-leads.ts";
import { STANDARD_12_LEADS } from "../ecg-record.ts";
import { STATUS_BITS } from "./frame.ts";
import { createStreamLineDecoder } from "./stream-decoder.ts";
import { encodeStreamFrames } from "./stream-encoder.ts";
import {
  concatBytes,
  discardsOf,
  leadValues,
  pseudoRandomBytes,
  recordsOf,
  run,
  streamFixture,
} from "./test-support.ts";

const FIXED_CLOCK = () => new Date(2026, 2, 14, 9, 5, 7);

test("10 s of frames become one record of exactly rate × 10 samples per lead, with the values sent", () => {
  const { settings, waveform, frames } = streamFixture(10);
  const events = run(createStreamLineDecoder(settings, { now: FIXED_CLOCK }), [concatBytes(frames)], false);
  const records = recordsOf(events);
  assert.equal(records.length, 1);
  const record = records[0]!;
  assert.equal(record.source.format, "ecg-stream");
  assert.deepEqual(record.patient, {});
  assert.deepEqual(record.acquisition, { date: "20260314", time: "090507" });
  assert.equal(record.rhythm.samplingFrequencyHz, 500);
  assert.deepEqual(
    record.rhythm.leads.map((lead) => lead.name),
    [...STANDARD_12_LEADS],
  );
  for (const lead of record.rhythm.leads) {
    assert.equal(lead.samples.length, 5000, lead.name);
    assert.equal(lead.nanovoltsPerUnit, 1000);
  }
  for (const name of settings.leads)
    assert.deepEqual(leadValues(record.rhythm, name), leadValues(waveform, name));
  assert.equal(record.gaps, undefined);
  assert.ok(record.notes?.some((note) => note.includes("III, aVR, aVL, aVF derived by the box")));
});

test("the 8 measured leads become 12: derived leads are the Einthoven/Goldberger ones, marked derived", () => {
  const { settings, waveform, frames } = streamFixture(10);
  const [record] = recordsOf(run(createStreamLineDecoder(settings), [concatBytes(frames)]));
  const expected = withDerivedLimbLeads(waveform);
  for (const name of ["III", "aVR", "aVL", "aVF"]) {
    const lead = record!.rhythm.leads.find((candidate) => candidate.name === name)!;
    assert.equal(lead.derived, true, name);
    assert.deepEqual([...lead.samples], leadValues(expected, name), name);
  }
  assert.equal(record!.rhythm.leads.find((lead) => lead.name === "II")!.derived, undefined);
});

test("a module that sends all 12 leads gets nothing derived; deriveLimbLeads false keeps the 8 as sent", () => {
  const twelve = streamFixture(10, { leads: [...STANDARD_12_LEADS] });
  const [full] = recordsOf(run(createStreamLineDecoder(twelve.settings), [concatBytes(twelve.frames)]));
  assert.ok(full!.rhythm.leads.every((lead) => lead.derived === undefined));
  assert.ok(!full!.notes?.some((note) => note.includes("derived")));
  assert.deepEqual(leadValues(full!.rhythm, "aVF"), leadValues(twelve.waveform, "aVF"));

  const eight = streamFixture(10, { deriveLimbLeads: false });
  const [plain] = recordsOf(run(createStreamLineDecoder(eight.settings), [concatBytes(eight.frames)]));
  assert.deepEqual(
    plain!.rhythm.leads.map((lead) => lead.name),
    eight.settings.leads,
  );
});

test("every variant of the frame round-trips: 3-byte samples, 2-byte counter, each checksum, 3-byte sync", () => {
  const variants = [
    {
      sampleBytes: 3 as const,
      counterBytes: 2 as const,
      checksum: "sum16" as const,
      recordSeconds: undefined,
    },
    { checksum: "sum8" as const, samplesPerFrame: 1, maxGapSeconds: 0.2, recordSeconds: undefined },
    { sync: [0xaa, 0x55, 0x01], samplesPerFrame: 10, samplingFrequencyHz: 250, recordSeconds: 4 },
  ];
  for (const variant of variants) {
    const { settings, waveform, frames } = streamFixture(variant.recordSeconds ?? 10, variant);
    const records = recordsOf(run(createStreamLineDecoder(settings), [concatBytes(frames)], false));
    assert.equal(records.length, 1, JSON.stringify(variant));
    for (const name of settings.leads) {
      assert.deepEqual(
        leadValues(records[0]!.rhythm, name),
        leadValues(waveform, name),
        JSON.stringify(variant),
      );
    }
  }
});

test("frames split at every byte boundary decode the same as whole", () => {
  const { settings, waveform, frames } = streamFixture(1, { recordSeconds: 1, minRecordSeconds: 0 });
  const bytes = concatBytes(frames);
  const frameLength = frames[0]!.length;
  // Every split position inside the first three frames, then the rest in one piece.
  for (let cut = 1; cut < frameLength * 3; cut++) {
    const events = run(createStreamLineDecoder(settings), [bytes.subarray(0, cut), bytes.subarray(cut)]);
    const records = recordsOf(events);
    assert.equal(records.length, 1, `cut at ${cut}`);
    assert.deepEqual(leadValues(records[0]!.rhythm, "V2"), leadValues(waveform, "V2"), `cut at ${cut}`);
    assert.deepEqual(discardsOf(events), [], `cut at ${cut}`);
  }
  // And one byte at a time.
  const pieces = Array.from(bytes, (byte) => Uint8Array.of(byte));
  const [record] = recordsOf(run(createStreamLineDecoder(settings), pieces));
  assert.deepEqual(leadValues(record!.rhythm, "I"), leadValues(waveform, "I"));
});

test("garbage between frames (false syncs included) is discarded and counted; no frame is lost", () => {
  const { settings, waveform, frames } = streamFixture(10);
  const parts: Uint8Array[] = [];
  let garbageBytes = 0;
  frames.forEach((frame, index) => {
    if (index % 7 === 3) {
      const garbage = pseudoRandomBytes(2 + (index % 23), index);
      // Half of the runs hold a sync (a false frame start) or end in the first sync byte.
      if (index % 2 === 0) garbage.set([0xa5, 0x5a], 0);
      else garbage[garbage.length - 1] = 0xa5;
      parts.push(garbage);
      garbageBytes += garbage.length;
    }
    parts.push(frame);
  });
  const bytes = concatBytes(parts);
  // Fed in uneven reads so garbage and frames straddle them.
  const reads: Uint8Array[] = [];
  for (let at = 0, size = 1; at < bytes.length; at += size, size = (size * 7 + 3) % 97) {
    reads.push(bytes.subarray(at, at + size));
  }
  const events = run(createStreamLineDecoder(settings), reads);
  const records = recordsOf(events);
  assert.equal(records.length, 1);
  assert.equal(records[0]!.gaps, undefined);
  assert.deepEqual(leadValues(records[0]!.rhythm, "V4"), leadValues(waveform, "V4"));
  const discarded = discardsOf(events);
  assert.equal(
    discarded.reduce((sum, event) => sum + event.byteCount, 0),
    garbageBytes,
  );
  assert.ok(
    discarded.every((event) => ["ECG_STREAM_NO_SYNC", "ECG_STREAM_BAD_CHECKSUM"].includes(event.code)),
  );
});

test("a corrupted frame is dropped, the next one kept, and the lost frame filled as a gap", () => {
  const { settings, waveform, frames } = streamFixture(10);
  const damaged = frames.map((frame) => frame.slice());
  const victim = damaged[200]!;
  victim[10] = (victim[10] ?? 0) ^ 0x40; // a flipped bit in a sample
  const events = run(createStreamLineDecoder(settings), [concatBytes(damaged)]);
  const [record] = recordsOf(events);
  assert.ok(record);
  assert.deepEqual(record.gaps, [{ startSample: 1000, sampleCount: 5 }]);
  assert.deepEqual(leadValues(record.rhythm, "II", 1005), leadValues(waveform, "II", 1005));
  assert.deepEqual(leadValues(record.rhythm, "II", 0, 1000), leadValues(waveform, "II", 0, 1000));
  const discarded = discardsOf(events);
  assert.equal(discarded[0]?.code, "ECG_STREAM_BAD_CHECKSUM");
  assert.equal(discarded[0]?.byteCount, frames[0]!.length);
});

test("a frame that lost bytes on the line does not swallow the good frame after it", () => {
  const { settings, frames } = streamFixture(1, { recordSeconds: 1, minRecordSeconds: 0 });
  const shortened = frames.map((frame, index) =>
    index === 10 ? frame.subarray(0, frame.length - 9) : frame,
  );
  const [record] = recordsOf(run(createStreamLineDecoder(settings), [concatBytes(shortened)]));
  assert.deepEqual(record!.gaps, [{ startSample: 50, sampleCount: 5 }]);
});

test("a run of lost frames is filled by linear interpolation, reported in gaps and notes, the record continues", () => {
  const { settings, waveform, frames } = streamFixture(10);
  const kept = frames.filter((_, index) => index < 100 || index >= 110);
  const [record] = recordsOf(run(createStreamLineDecoder(settings), [concatBytes(kept)]));
  assert.ok(record);
  assert.equal(record.rhythm.leads[0]!.samples.length, 5000);
  assert.deepEqual(record.gaps, [{ startSample: 500, sampleCount: 50 }]);
  assert.ok(record.notes?.some((note) => note.includes("50 samples (100 ms) lost in transit in 1 gap(s)")));
  const before = leadValues(waveform, "V1", 499, 500)[0]!;
  const after = leadValues(waveform, "V1", 550, 551)[0]!;
  const filled = leadValues(record.rhythm, "V1", 500, 550);
  filled.forEach((value, k) => {
    assert.equal(value, Math.round(before + ((after - before) * (k + 1)) / 51));
  });
  assert.deepEqual(leadValues(record.rhythm, "V1", 550), leadValues(waveform, "V1", 550, 5000));
});

test("gapFill hold repeats the last sample the device sent", () => {
  const { settings, waveform, frames } = streamFixture(10, { gapFill: "hold" });
  const kept = frames.filter((_, index) => index !== 20 && index !== 21);
  const [record] = recordsOf(run(createStreamLineDecoder(settings), [concatBytes(kept)]));
  const last = leadValues(waveform, "I", 99, 100)[0]!;
  assert.deepEqual(leadValues(record!.rhythm, "I", 100, 110), Array(10).fill(last));
  assert.ok(record!.notes?.some((note) => note.includes("holding the last value")));
});

test("the counter wraps (u8 and u16) without a gap, and a gap across the wrap is measured right", () => {
  const u8 = streamFixture(10, {}, 250);
  const [clean] = recordsOf(run(createStreamLineDecoder(u8.settings), [concatBytes(u8.frames)]));
  assert.equal(clean!.gaps, undefined); // 1000 frames: the counter wrapped four times
  // Frames 4, 5, 6 carry counters 254, 255, 0.
  const acrossWrap = u8.frames.filter((_, index) => index < 4 || index > 6);
  const [gapped] = recordsOf(run(createStreamLineDecoder(u8.settings), [concatBytes(acrossWrap)]));
  assert.deepEqual(gapped!.gaps, [{ startSample: 20, sampleCount: 15 }]);

  const u16 = streamFixture(10, { counterBytes: 2 }, 65530);
  const [wide] = recordsOf(run(createStreamLineDecoder(u16.settings), [concatBytes(u16.frames)]));
  assert.equal(wide!.gaps, undefined);
  assert.equal(wide!.rhythm.leads[0]!.samples.length, 5000);
});

test("a gap longer than maxGapSeconds closes the record (kept, marked cut short) and starts a new one", () => {
  const { settings, waveform, frames } = streamFixture(16);
  // Frames 400–549 lost (1.5 s: 150 frames, more than the 100 of maxGapSeconds); 10.5 s follow.
  const kept = frames.filter((_, index) => index < 400 || index >= 550);
  const events = run(createStreamLineDecoder(settings), [concatBytes(kept)], false);
  const records = recordsOf(events);
  assert.equal(records.length, 2);
  const [cut, next] = records;
  assert.equal(cut!.rhythm.leads[0]!.samples.length, 2000);
  assert.ok(cut!.notes?.some((note) => note.includes("cut short after 4 s of 10 s")));
  assert.ok(cut!.notes?.some((note) => note.includes("the sequence counter jumped from 143 to 38")));
  assert.equal(next!.rhythm.leads[0]!.samples.length, 5000);
  assert.equal(next!.gaps, undefined);
  assert.deepEqual(leadValues(next!.rhythm, "V6"), leadValues(waveform, "V6", 2750, 7750));
  assert.equal(discardsOf(events).length, 0);
});

test("a counter that goes backwards starts a new record; a piece under minRecordSeconds is discarded", () => {
  const before = streamFixture(1); // counters 0…99
  const restarted = streamFixture(10); // the module restarted: counters from 0 again
  const events = run(createStreamLineDecoder(before.settings), [
    concatBytes(before.frames),
    concatBytes(restarted.frames),
  ]);
  const discarded = discardsOf(events);
  assert.equal(discarded.length, 1);
  assert.equal(discarded[0]!.code, "ECG_STREAM_RECORD_TOO_SHORT");
  assert.match(discarded[0]!.reason, /the sequence counter jumped from 99 to 0/);
  assert.equal(discarded[0]!.byteCount, before.frames.length * before.frames[0]!.length);
  const records = recordsOf(events);
  assert.equal(records.length, 1);
  assert.deepEqual(leadValues(records[0]!.rhythm, "V3"), leadValues(restarted.waveform, "V3"));
});

test("end() keeps a partial record of at least minRecordSeconds, marked cut short, and resets", () => {
  const { settings, waveform, frames } = streamFixture(10);
  const decoder = createStreamLineDecoder(settings);
  const partial = run(decoder, [concatBytes(frames.slice(0, 300))]);
  const [record] = recordsOf(partial);
  assert.equal(record!.rhythm.leads[0]!.samples.length, 1500);
  assert.deepEqual(leadValues(record!.rhythm, "V5"), leadValues(waveform, "V5", 0, 1500));
  assert.ok(record!.notes?.some((note) => note.includes("cut short after 3 s of 10 s: the line closed")));
  // After end() the decoder starts afresh: counters continuing from 300 are not a gap of the old record.
  const again = recordsOf(run(decoder, [concatBytes(frames.slice(300))]));
  assert.equal(again.length, 1);
  assert.equal(again[0]!.gaps, undefined);
  assert.equal(again[0]!.rhythm.leads[0]!.samples.length, 3500);
});

test("end() reports a too-short partial record and a cut-off frame as discarded", () => {
  const { settings, frames } = streamFixture(10);
  const tail = frames[100]!.subarray(0, 30);
  const events = run(createStreamLineDecoder(settings), [concatBytes([...frames.slice(0, 100), tail])]);
  assert.deepEqual(recordsOf(events), []);
  assert.deepEqual(
    discardsOf(events).map((event) => [event.code, event.byteCount]),
    [
      ["ECG_STREAM_INCOMPLETE_FRAME", 30],
      ["ECG_STREAM_RECORD_TOO_SHORT", 100 * frames[0]!.length],
    ],
  );
});

test("receiving is announced once per read that verified a frame, never for garbage alone", () => {
  const { settings, frames } = streamFixture(1);
  const decoder = createStreamLineDecoder(settings);
  assert.deepEqual(decoder.push(pseudoRandomBytes(40, 9).map((byte) => (byte === 0xa5 ? 0 : byte))), [
    {
      kind: "discarded",
      byteCount: 40,
      code: "ECG_STREAM_NO_SYNC",
      reason: "bytes outside any frame (no sync)",
    },
  ]);
  const events = decoder.push(concatBytes(frames.slice(0, 5)));
  assert.deepEqual(events, [{ kind: "receiving" }]);
  assert.deepEqual(decoder.push(frames[5]!.subarray(0, 4)), []);
  assert.deepEqual(decoder.push(frames[5]!.subarray(4)), [{ kind: "receiving" }]);
});

test("lead-off and pace flags in the status byte are summarised in the record's notes", () => {
  const { settings, waveform } = streamFixture(10);
  const frames = encodeStreamFrames(waveform, settings, {
    status: (index) =>
      (index < 30 ? STATUS_BITS.LA | STATUS_BITS.CHEST : 0) | (index % 100 === 0 ? STATUS_BITS.PACE : 0),
  });
  const [record] = recordsOf(run(createStreamLineDecoder(settings), [concatBytes(frames)]));
  assert.ok(record!.notes?.includes("the device reported electrode LA off in 30 of 1000 frames"));
  assert.ok(record!.notes?.includes("the device reported electrode CHEST off in 30 of 1000 frames"));
  assert.ok(record!.notes?.includes("the device flagged a pacemaker pulse in 10 frames"));
});

test("records keep coming back to back: 30 s give three records with contiguous samples", () => {
  const { settings, waveform, frames } = streamFixture(30);
  const records = recordsOf(run(createStreamLineDecoder(settings), [concatBytes(frames)], false));
  assert.equal(records.length, 3);
  records.forEach((record, index) => {
    assert.deepEqual(
      leadValues(record.rhythm, "V2"),
      leadValues(waveform, "V2", index * 5000, (index + 1) * 5000),
    );
  });
});
