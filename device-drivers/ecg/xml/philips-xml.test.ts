import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { EcgRecord, EcgWaveform } from "../ecg-record.ts";
import { decodeEcgXml, decodePhilipsXml } from "./decode-ecg-xml.ts";
import {
  base64,
  concatBytes,
  int16Bytes,
  philipsDocument,
  philipsResiduals,
  SHARED_ECG_XML,
  SHARED_SKIP,
  synthetic12,
  utf8,
  utf16leWithBom,
  xliChunk,
} from "./xml-test-support.ts";

const LEAD_LABELS = "I II III aVR aVL aVF V1 V2 V3 V4 V5 V6";
const truth = synthetic12(1000, 500); // 2 s at 500 Hz

function parsedXli(leads: Map<string, Int32Array>, extraChunks = 0): string {
  const stored = philipsResiduals(leads);
  const chunks = [...stored.values()].map(xliChunk);
  // Carts write 16 chunks; the 4 past the valid leads are unused channels.
  for (let k = 0; k < extraChunks; k++) chunks.push(xliChunk(new Int32Array(1000)));
  return `<parsedwaveforms dataencoding="Base64" compression="XLI" numberofleads="12" leadlabels="${LEAD_LABELS}" durationperchannel="2000" samplespersecond="500" resolution="5" signaloffset="0" signalsigned="True" bitspersample="16" hipass="0.05" lowpass="150" notchfiltered="True" notchfilterfreqs="50">${base64(concatBytes(chunks))}</parsedwaveforms>`;
}

const lead = (waveform: EcgWaveform | undefined, name: string) =>
  waveform?.leads.find((l) => l.name === name);

test("a generated PageWriter 1.04.01 file (UTF-16LE, BOM, XLI): every lead back exactly", () => {
  const bytes = utf16leWithBom(philipsDocument({ parsedwaveforms: parsedXli(truth, 4) }));
  const record = decodeEcgXml(bytes);
  assert.equal(record.source.format, "philips-xml");
  assert.equal(record.source.version, "1.04.01");
  assert.equal(record.rhythm.samplingFrequencyHz, 500);
  assert.deepEqual(
    record.rhythm.leads.map((l) => l.name),
    LEAD_LABELS.split(" "),
  );
  for (const [name, samples] of truth) {
    assert.deepEqual(lead(record.rhythm, name)?.samples, samples, name);
    assert.equal(lead(record.rhythm, name)?.nanovoltsPerUnit, 5000);
    assert.equal(lead(record.rhythm, name)?.derived, undefined);
  }
});

test("a generated SierraECG 1.03-style waveform (compressflag/compressmethod, rate from signalcharacteristics)", () => {
  const chunks = concatBytes([...philipsResiduals(truth).values()].map(xliChunk));
  const parsedwaveforms = `<parsedwaveforms compressflag="True" compressmethod="XLI" filterflag="False" dataencoding="Base64" durationperchannel="2000" nbitspersample="16">${base64(chunks)}</parsedwaveforms>`;
  const record = decodePhilipsXml(utf8(philipsDocument({ parsedwaveforms }).replace("utf-16", "UTF-8")));
  assert.equal(record.rhythm.samplingFrequencyHz, 500);
  for (const [name, samples] of truth) assert.deepEqual(lead(record.rhythm, name)?.samples, samples, name);
});

test("a generated Philips file: patient, acquisition, measurements, statements", () => {
  const record = decodePhilipsXml(utf16leWithBom(philipsDocument({ parsedwaveforms: parsedXli(truth) })));
  assert.deepEqual(record.patient, {
    id: "P000777",
    name: "李^娜",
    sex: "F",
    age: "061Y",
    heightCm: 158,
    weightKg: 59.9,
  });
  assert.deepEqual(record.acquisition, {
    date: "20240305",
    time: "081502",
    manufacturer: "Philips Medical Products",
    model: "PageWriter TC",
    deviceSerialNumber: "CN1234",
    softwareVersion: "A.07.07.07",
    institution: "镇卫生院",
    department: "心电图室",
    operator: "Zhou",
    referringPhysician: "Dr Chen",
    accessionNumber: "ACC-2024-0007",
    highPassHz: 0.05,
    lowPassHz: 150,
    notchHz: 50,
  });
  // "Failed" PR is left out, not turned into a number.
  assert.deepEqual(record.measurements, {
    heartRateBpm: 75,
    rrIntervalMs: 800,
    qrsDurationMs: 92,
    qtIntervalMs: 380,
    qtcIntervalMs: 424,
    pAxisDeg: 45,
    qrsAxisDeg: 30,
    tAxisDeg: 20,
  });
  assert.deepEqual(record.statements, [
    "Sinus rhythm (V-rate 50-99)",
    "Normal ECG",
    "- NORMAL ECG -",
    "Unconfirmed Diagnosis",
  ]);
});

test("uncompressed forms: base64 int16 and decimal text, limb leads as stored (no residuals)", () => {
  const all = concatBytes([...truth.values()].map(int16Bytes));
  const attrs = `numberofleads="12" leadlabels="${LEAD_LABELS}" durationperchannel="2000" samplespersecond="500" resolution="5"`;
  const asBase64 = `<parsedwaveforms dataencoding="Base64" compression="None" ${attrs}>${base64(all)}</parsedwaveforms>`;
  const asText = `<parsedwaveforms dataencoding="Plain" ${attrs}>${[...truth.values()].map((s) => s.join(" ")).join("\n")}</parsedwaveforms>`;
  for (const parsedwaveforms of [asBase64, asText]) {
    const record = decodePhilipsXml(utf8(philipsDocument({ parsedwaveforms }).replace("utf-16", "utf-8")));
    for (const [name, samples] of truth) assert.deepEqual(lead(record.rhythm, name)?.samples, samples, name);
  }
});

test("representative beats (repbeats) become median beats at their own rate and resolution", () => {
  const beat = (name: string) => truth.get(name)?.subarray(0, 600) ?? new Int32Array(0);
  const repbeats = `<repbeats dataencoding="Base64" samplespersec="1000" resolution="1.0">${["I", "II", "V1"]
    .map(
      (name) =>
        `<repbeat leadname="${name}"><qrsdur>92</qrsdur><waveform duration="600">${base64(int16Bytes(beat(name)))}</waveform></repbeat>`,
    )
    .join("")}</repbeats>`;
  const record = decodePhilipsXml(
    utf16leWithBom(philipsDocument({ parsedwaveforms: parsedXli(truth), repbeats })),
  );
  assert.equal(record.medianBeats?.samplingFrequencyHz, 1000);
  assert.deepEqual(
    record.medianBeats?.leads.map((l) => [l.name, l.nanovoltsPerUnit, l.samples.length]),
    [
      ["I", 1000, 600],
      ["II", 1000, 600],
      ["V1", 1000, 600],
    ],
  );
  assert.deepEqual(lead(record.medianBeats, "II")?.samples, beat("II"));
});

test("refusals: damaged XLI, a short lead, no waveform, unknown compression", () => {
  const good = philipsDocument({ parsedwaveforms: parsedXli(truth) });
  const payload = /(<parsedwaveforms[^>]*>)([^<]*)</.exec(good);
  assert.ok(payload?.[1] && payload[2]);
  const bytes = Buffer.from(payload[2], "base64");
  // Chop the last chunk short: its header now declares more bytes than remain.
  const truncated = good.replace(payload[2], base64(bytes.subarray(0, bytes.length - 40)));
  assert.throws(() => decodePhilipsXml(truncated), { code: "ECG_XML_XLI_CORRUPT" });
  // Declare 3 s while the chunks hold 2 s.
  const longer = good.replace('durationperchannel="2000"', 'durationperchannel="3000"');
  assert.throws(() => decodePhilipsXml(longer), {
    code: "ECG_XML_XLI_CORRUPT",
    message: /decompresses to 1000 samples/,
  });
  const noWaveform = good.replace(/<parsedwaveforms[\s\S]*<\/parsedwaveforms>/, "");
  assert.throws(() => decodePhilipsXml(noWaveform), { code: "ECG_XML_NO_WAVEFORM" });
  const otherCompression = good.replace('compression="XLI"', 'compression="ZIP"');
  assert.throws(() => decodePhilipsXml(otherCompression), { code: "ECG_XML_UNSUPPORTED" });
});

// --- the real exports in ../shared/data/ecg-xml ------------------------------------------------

const realFiles = {
  "1.03 (ASCII)": {
    file: "philips_129DYPRG.XML",
    // sierra-ecg-tools' test suite: each lead's sample at the middle (index 2750).
    middle: [-9, -17, -7, 13, -1, -12, 0, -1, -3, -4, -7, -6],
  },
  "1.04.01 (UTF-16LE)": {
    file: "philips_2020-5-18_15-48-11.xml",
    middle: [-12, 78, 90, -33, -51, 84, 14, 3, -24, -20, -13, -21],
  },
};

function decodeReal(file: string): EcgRecord {
  return decodeEcgXml(readFileSync(join(SHARED_ECG_XML, file)));
}

for (const [label, { file, middle }] of Object.entries(realFiles)) {
  test(`real Philips ${label}: 12 leads × 11 s at 500 Hz, values as the reference decoder gives`, {
    skip: SHARED_SKIP,
  }, () => {
    const record = decodeReal(file);
    assert.equal(record.rhythm.samplingFrequencyHz, 500);
    assert.equal(record.rhythm.leads.length, 12);
    for (const l of record.rhythm.leads) {
      assert.equal(l.samples.length, 11 * 500, `${l.name}: durationperchannel 11000 ms × 500 Hz`);
      assert.equal(l.nanovoltsPerUnit, 5000);
    }
    assert.deepEqual(
      record.rhythm.leads.map((l) => l.samples[2750]),
      middle,
    );
  });

  test(`real Philips ${label}: reconstructed limb leads obey Einthoven and Goldberger`, {
    skip: SHARED_SKIP,
  }, () => {
    const rhythm = decodeReal(file).rhythm;
    const get = (name: string) => lead(rhythm, name)?.samples ?? new Int32Array(0);
    const [one, two, three, avr, avl, avf] = [
      get("I"),
      get("II"),
      get("III"),
      get("aVR"),
      get("aVL"),
      get("aVF"),
    ];
    // The first 10 s: the recording (the 11th second holds the cart's calibration pulse).
    for (let k = 0; k < 5000; k++) {
      const [i, ii] = [one[k] as number, two[k] as number];
      assert.ok(Math.abs((three[k] as number) - (ii - i)) <= 2, `III ≈ II − I at ${k}`);
      assert.ok(Math.abs((avr[k] as number) + (i + ii) / 2) <= 2, `aVR ≈ −(I + II)/2 at ${k}`);
      assert.ok(Math.abs((avl[k] as number) - (i - ii / 2)) <= 2, `aVL ≈ I − II/2 at ${k}`);
      assert.ok(Math.abs((avf[k] as number) - (ii - i / 2)) <= 2, `aVF ≈ II − I/2 at ${k}`);
    }
    // The halving rule: the wrong one (flooring instead of truncating) adds ±1 jitter wherever a sum
    // is odd and negative, making aVR/aVL/aVF rougher than I and II they are averaged from.
    const roughness = (s: Int32Array) => {
      let sum = 0;
      for (let k = 2; k < 5000; k++)
        sum += Math.abs((s[k] as number) - 2 * (s[k - 1] as number) + (s[k - 2] as number));
      return sum;
    };
    const limit = Math.max(roughness(one), roughness(two));
    for (const [name, s] of [
      ["aVR", avr],
      ["aVL", avl],
      ["aVF", avf],
    ] as const) {
      assert.ok(roughness(s) <= limit, `${name} roughness ${roughness(s)} ≤ ${limit}`);
    }
  });

  test(`real Philips ${label}: amplitudes are physiological (QRS peaks 0.3–3 mV)`, {
    skip: SHARED_SKIP,
  }, () => {
    const rhythm = decodeReal(file).rhythm;
    for (const name of ["I", "II", "V5"]) {
      const l = lead(rhythm, name);
      assert.ok(l);
      let peak = 0;
      for (let k = 0; k < 5000; k++) peak = Math.max(peak, Math.abs(l.samples[k] as number));
      const millivolts = (peak * l.nanovoltsPerUnit) / 1e6;
      assert.ok(millivolts >= 0.3 && millivolts <= 3, `${name}: peak ${millivolts} mV`);
    }
  });
}

test("real Philips 1.03: demographics, statements and the calibration pulse note", {
  skip: SHARED_SKIP,
}, () => {
  const record = decodeReal("philips_129DYPRG.XML");
  assert.deepEqual(record.patient, { id: "1112010721168bdc", sex: "M", age: "050Y" });
  assert.equal(record.acquisition.date, "20111201");
  assert.equal(record.acquisition.time, "072734");
  assert.equal(record.acquisition.model, "HeartstartMRx");
  assert.equal(record.measurements?.heartRateBpm, 41);
  assert.equal(record.statements?.[0], "Sinus bradycardia (rate< 50)");
  assert.equal(record.statements?.[3], ">>> Acute MI <<<");
  assert.ok(record.notes?.some((note) => /calibration pulse .* 10\.70–10\.90 s/.test(note)));
  // The pulse is 1 mV (200 × 5 µV) in every lead.
  for (const l of record.rhythm.leads) assert.equal(l.samples[5400], 200, l.name);
});

test("real Philips 1.04.01: PageWriter TC, representative beats at 1 kHz", { skip: SHARED_SKIP }, () => {
  const record = decodeReal("philips_2020-5-18_15-48-11.xml");
  assert.equal(record.source.version, "1.04.01");
  assert.equal(record.acquisition.model, "PageWriter TC");
  assert.equal(record.acquisition.deviceSerialNumber, "US71621374");
  assert.equal(record.acquisition.softwareVersion, "A.07.04.03");
  assert.equal(record.patient.birthDate, "19510101");
  assert.equal(record.measurements?.heartRateBpm, 64);
  assert.deepEqual(record.statements?.slice(0, 2), [
    "Sinus rhythm (normal P axis, V-rate 50-99)",
    "Abnormal R-wave progression, early transition (QRS area>0 in V2)",
  ]);
  const median = record.medianBeats;
  assert.equal(median?.samplingFrequencyHz, 1000);
  assert.equal(median?.leads.length, 12);
  for (const l of median?.leads ?? []) {
    assert.equal(l.samples.length, 1200);
    assert.equal(l.nanovoltsPerUnit, 1000);
  }
  // Representative beats are stored plainly (no residuals): III is close to II − I (averaged per lead).
  const get = (name: string) => lead(median, name)?.samples ?? new Int32Array(0);
  const [one, two, three] = [get("I"), get("II"), get("III")];
  for (let k = 0; k < 1200; k++)
    assert.ok(Math.abs((three[k] as number) - ((two[k] as number) - (one[k] as number))) <= 20);
});
