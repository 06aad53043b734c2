import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { readDicomEcg } from "../../device-drivers/ecg/dicom/index.ts";
import { STANDARD_12_LEADS } from "../../device-drivers/ecg/ecg-record.ts";
import type { LineEvent } from "../../device-drivers/ecg/line-decoder.ts";
import { decodeScpEcg, encodeScpEcg } from "../../device-drivers/ecg/scp-ecg/index.ts";
import {
  createStreamLineDecoder,
  generateSyntheticEcg,
  resolveStreamSettings,
} from "../../device-drivers/ecg/stream/index.ts";
import { readWfdbRecord } from "../../device-drivers/ecg/wfdb/index.ts";
import { FaultInjector } from "./faults.ts";
import { type PlayUnit, scpPlaylist, streamPlaylist } from "./playlist.ts";

const all = (units: Iterable<PlayUnit>) => [...units];

const sharedData = join(import.meta.dirname, "..", "..", "..", "shared", "data");
const NO_DATA = existsSync(sharedData)
  ? false
  : `SKIPPED: ${sharedData} is absent (the shared sample corpus); the generated-data tests still ran`;

function decodeFrames(units: PlayUnit[], settings: object): LineEvent[] {
  const decoder = createStreamLineDecoder(settings);
  const events = units.flatMap((unit) => decoder.push(unit.bytes));
  events.push(...decoder.end());
  return events;
}

test("a stream playlist sends frames every samplesPerFrame / rate seconds and decodes back to the source", () => {
  const source = generateSyntheticEcg({ seconds: 10, leadSet: "8" });
  const settings = resolveStreamSettings({});
  const playlist = streamPlaylist(source, settings, { repeat: 1, records: undefined });
  const units = all(playlist.units);
  assert.equal(playlist.unitCount, 1000);
  assert.equal(units.length, 1000);
  assert.equal(playlist.unitsPerRecord, 1000);
  assert.deepEqual(
    units.slice(0, 3).map((unit) => unit.atSeconds),
    [0, 0.01, 0.02],
  );
  const records = decodeFrames(units, settings).flatMap((e) => (e.kind === "record" ? [e.record] : []));
  assert.equal(records.length, 1);
  for (const lead of source.rhythm.leads) {
    const got = records[0]!.rhythm.leads.find((l) => l.name === lead.name);
    assert.deepEqual([...(got?.samples ?? [])], [...lead.samples], lead.name);
  }
});

test("--records cuts N records from the looped source; --repeat plays it N times; the counter runs on", () => {
  const source = generateSyntheticEcg({ seconds: 4 });
  const settings = resolveStreamSettings({ recordSeconds: 3 });
  const cut = streamPlaylist(source, settings, { repeat: 1, records: 3 });
  assert.equal(cut.unitCount, 900);
  const units = all(cut.units);
  const records = decodeFrames(units, settings).flatMap((e) => (e.kind === "record" ? [e.record] : []));
  assert.equal(records.length, 3);
  assert.ok(records.every((record) => record.gaps === undefined));
  // The third record = source seconds 6–9 of the looped 4-s source = seconds 2–4 then 0–1.
  const v1 = source.rhythm.leads.find((lead) => lead.name === "V1")!.samples;
  const third = records[2]!.rhythm.leads.find((lead) => lead.name === "V1")!.samples;
  assert.deepEqual([...third], [...v1.subarray(1000, 2000), ...v1.subarray(0, 500)]);

  assert.equal(streamPlaylist(source, settings, { repeat: 3, records: undefined }).unitCount, 1200);
  assert.equal(
    streamPlaylist(source, settings, { repeat: 0, records: undefined }).unitCount,
    Number.POSITIVE_INFINITY,
  );
});

test("an SCP-ECG playlist sends the source's own bytes when playing it whole, cuts re-encoded otherwise", () => {
  const source = generateSyntheticEcg({ seconds: 10, patient: { id: "T-1" } });
  const raw = encodeScpEcg(source);
  let encoded = 0;
  const encode = (record: typeof source) => {
    encoded += 1;
    return encodeScpEcg(record);
  };
  const whole = all(scpPlaylist(source, raw, 10, { repeat: 2, records: undefined }, encode).units);
  assert.equal(whole.length, 2);
  assert.ok(whole.every((unit) => unit.bytes === raw));
  assert.deepEqual(
    whole.map((unit) => unit.atSeconds),
    [0, 10],
  );
  assert.equal(encoded, 0);
  const cut = all(scpPlaylist(source, raw, 4, { repeat: 1, records: 3 }, encode).units);
  assert.equal(encoded, 3);
  const decoded = cut.map((unit) => decodeScpEcg(unit.bytes));
  assert.ok(decoded.every((record) => record.rhythm.leads[0]!.samples.length === 2000));
  assert.deepEqual(decoded[0]!.patient.id, "T-1");
  assert.deepEqual(
    cut.map((unit) => unit.atSeconds),
    [0, 4, 8],
  );
});

test("faults: noise per second of ECG between units, drops, split writes — all replayable by seed", () => {
  const unit = (index: number): PlayUnit => ({
    kind: "frame",
    index,
    bytes: Uint8Array.from({ length: 86 }, (_, k) => k),
    atSeconds: index * 0.01,
  });
  const run = (seed: number) => {
    const faults = new FaultInjector({
      seed,
      noiseBytesPerSecond: 250,
      dropRate: 0.2,
      dropMode: "unit",
      split: true,
    });
    return Array.from({ length: 400 }, (_, index) => faults.writesFor(unit(index)));
  };
  const first = run(9);
  assert.deepEqual(run(9), first);
  assert.notDeepEqual(run(10), first);
  // 3.99 s of ECG at 250 bytes/s.
  assert.equal(
    first.reduce((sum, w) => sum + w.noiseBytes, 0),
    997,
  );
  const dropped = first.filter((w) => w.dropped === "unit").length;
  assert.ok(dropped > 40 && dropped < 120, `${dropped} of 400 dropped at 0.2`);
  for (const w of first) {
    const written = w.writes.reduce((sum, piece) => sum + piece.length, 0);
    assert.equal(written, w.noiseBytes + (w.dropped ? 0 : 86));
  }
  assert.ok(first.some((w) => w.writes.length > 1));

  const byteDrops = new FaultInjector({
    seed: 1,
    noiseBytesPerSecond: 0,
    dropRate: 1,
    dropMode: "byte",
    split: false,
  });
  const hit = byteDrops.writesFor(unit(0));
  assert.equal(hit.dropped, "byte");
  assert.equal(hit.writes[0]!.length, 85);
});

test("the DICOM ECG of the corpus played as a 12-lead stream at its own rate and unit comes back sample for sample", {
  skip: NO_DATA,
}, () => {
  const source = readDicomEcg(readFileSync(join(sharedData, "ecg-dicom", "waveform_ecg.dcm")));
  const settings = resolveStreamSettings({
    leads: [...STANDARD_12_LEADS],
    samplingFrequencyHz: source.rhythm.samplingFrequencyHz,
    nanovoltsPerUnit: source.rhythm.leads[0]!.nanovoltsPerUnit,
    samplesPerFrame: 10,
  });
  const playlist = streamPlaylist(source, settings, { repeat: 1, records: undefined });
  assert.equal(playlist.clippedSamples, 0);
  const records = decodeFrames(all(playlist.units), settings).flatMap((e) =>
    e.kind === "record" ? [e.record] : [],
  );
  assert.equal(records.length, 1);
  for (const lead of source.rhythm.leads) {
    const got = records[0]!.rhythm.leads.find((l) => l.name === lead.name);
    assert.deepEqual([...(got?.samples ?? [])], [...lead.samples], lead.name);
  }
});

test("PTB s0010_re (38.4 s, 1 kHz) played as 8 leads: three whole records of its samples, then a partial one", {
  skip: NO_DATA,
}, async () => {
  const source = await readWfdbRecord(join(sharedData, "ecg-wfdb", "s0010_re.hea"));
  const settings = resolveStreamSettings({
    samplingFrequencyHz: 1000,
    nanovoltsPerUnit: 500,
    samplesPerFrame: 10,
  });
  const events = decodeFrames(
    all(streamPlaylist(source, settings, { repeat: 1, records: undefined }).units),
    settings,
  );
  const records = events.flatMap((e) => (e.kind === "record" ? [e.record] : []));
  assert.equal(records.length, 4);
  assert.ok(records[3]!.notes?.some((note) => note.includes("cut short after 8.4 s of 10 s")));
  records.slice(0, 3).forEach((record, index) => {
    for (const name of settings.leads) {
      const expected = source.rhythm.leads.find((l) => l.name === name)!.samples;
      const got = record.rhythm.leads.find((l) => l.name === name)!.samples;
      assert.deepEqual(
        [...got],
        [...expected.subarray(index * 10000, (index + 1) * 10000)],
        `${name} record ${index}`,
      );
    }
  });
});
