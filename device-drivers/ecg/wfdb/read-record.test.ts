import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { STANDARD_12_LEADS } from "../ecg-record.ts";
import { normaliseLeadName } from "./lead-names.ts";
import { readWfdbRecord } from "./read-record.ts";
import { decodeSignalFile } from "./signal-formats.ts";

const repoRoot = join(import.meta.dirname, "..", "..", "..");
const wfdbData = join(repoRoot, "..", "shared", "data", "ecg-wfdb");
const NO_DATA = existsSync(wfdbData)
  ? false
  : `SKIPPED: ${wfdbData} is absent (the shared sample corpus); the generated-file tests still ran`;

/** Interleaves columns into frames and encodes them as WFDB format 16 / 212 / 80. */
function encode(format: 16 | 212 | 80, columns: number[][]): Uint8Array {
  const flat: number[] = [];
  for (let k = 0; k < (columns[0]?.length ?? 0); k++) for (const column of columns) flat.push(column[k] ?? 0);
  if (format === 16) {
    const out = new Uint8Array(flat.length * 2);
    const view = new DataView(out.buffer);
    flat.forEach((value, k) => {
      view.setInt16(2 * k, value, true);
    });
    return out;
  }
  if (format === 80) return Uint8Array.from(flat, (value) => value + 128);
  const out = new Uint8Array(Math.ceil((flat.length * 3) / 2));
  for (let k = 0; k < flat.length; k += 2) {
    const a = (flat[k] ?? 0) & 0xfff;
    const b = (flat[k + 1] ?? 0) & 0xfff;
    const at = (k / 2) * 3;
    out[at] = a & 0xff;
    out[at + 1] = ((a >> 8) & 0x0f) | ((b >> 4) & 0xf0);
    if (k + 1 < flat.length) out[at + 2] = b & 0xff;
  }
  return out;
}

const checksum = (values: number[]) => values.reduce((sum, value) => (sum + value) & 0xffff, 0);

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "dxgate-wfdb-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const I = [10, -20, 30, 2047, -2048];
const AVR = [5, 6, 7, 8, 9];
const V1 = [-1000, 0, 1000, 32767, -32768];
const VX = [1, -1, 2, -2, 0];
const VY = [100, 200, 300, 400, 500];
const VZ = [-2048, 2047, 0, 1, -1];

test("a record in two signal files (16 and 212): samples less baseline, unit from gain, names, patient, time", async () => {
  await writeFile(join(dir, "rec.dat"), encode(16, [I, AVR, V1]));
  await writeFile(join(dir, "rec.xyz"), encode(212, [VX, VY, VZ]));
  const header = [
    "rec 6 500 5 12:30:05 14/03/2026",
    `rec.dat 16 200(5)/mV 16 0 ${I[0]} ${checksum(I)} 0 i`,
    `rec.dat 16 2000/uV 16 0 ${AVR[0]} ${checksum(AVR)} 0 avr`,
    `rec.dat 16 1000 16 3 ${V1[0]} ${checksum(V1)} 0 V1`,
    `rec.xyz 212 400 12 0 0 ${checksum(VX)} 0 vx`,
    `rec.xyz 212 400 12 0 0 ${checksum(VY)} 0 vy`,
    `rec.xyz 212 400 12 0 0 ${checksum(VZ)} 0 vz`,
    "# age: 45",
    "# sex: male",
    "# Diagnose: not for the record",
    "",
  ].join("\n");
  await writeFile(join(dir, "rec.hea"), header);
  const record = await readWfdbRecord(join(dir, "rec.hea"));
  assert.equal(record.source.format, "wfdb");
  assert.deepEqual(record.patient, { age: "045Y", sex: "M" });
  assert.deepEqual(record.acquisition, { date: "20260314", time: "123005" });
  assert.equal(record.rhythm.samplingFrequencyHz, 500);
  const byName = Object.fromEntries(record.rhythm.leads.map((lead) => [lead.name, lead]));
  assert.deepEqual(Object.keys(byName), ["I", "aVR", "V1", "X", "Y", "Z"]);
  assert.deepEqual(
    [...byName.I!.samples],
    I.map((v) => v - 5),
  ); // baseline 5
  assert.equal(byName.I!.nanovoltsPerUnit, 5000); // 200 adu/mV
  assert.equal(byName.aVR!.nanovoltsPerUnit, 0.5); // 2000 adu/µV
  assert.deepEqual(
    [...byName.V1!.samples],
    V1.map((v) => v - 3),
  ); // no baseline given: ADC zero
  assert.equal(byName.V1!.nanovoltsPerUnit, 1000);
  assert.deepEqual([...byName.X!.samples], VX);
  assert.deepEqual([...byName.Y!.samples], VY);
  assert.deepEqual([...byName.Z!.samples], VZ);
  assert.equal(record.notes, undefined);
});

test("format 80 and a header without a sample count: the file size says how long", async () => {
  await writeFile(
    join(dir, "short.dat"),
    encode(80, [
      [-128, 0, 127, 5],
      [1, 2, 3, 4],
    ]),
  );
  await writeFile(
    join(dir, "short.hea"),
    "short 2 250\nshort.dat 80 100 8 0 0 0 0 II\nshort.dat 80 100/mmHg 8 0 0 0 0 BP\n",
  );
  const record = await readWfdbRecord(join(dir, "short.hea"));
  assert.deepEqual(
    record.rhythm.leads.map((lead) => [lead.name, [...lead.samples], lead.nanovoltsPerUnit]),
    [["II", [-128, 0, 127, 5], 10000]],
  );
  assert.deepEqual(record.notes, ["signal 1 (BP) in mmHg is not a voltage: left out"]);
});

test("the other formats decode: 61 (big endian), 160 (offset), 24, 32", () => {
  const bytes = Uint8Array.of(0xff, 0xfe, 0x00, 0x80, 0x01, 0x00, 0x80, 0xff, 0xff, 0xff, 0x7f, 0x00);
  assert.deepEqual([...decodeSignalFile(61, bytes, 1, 2)[0]!], [-2, 128]);
  assert.deepEqual([...decodeSignalFile(160, bytes.subarray(2), 1, 1)[0]!], [0]);
  assert.deepEqual([...decodeSignalFile(24, bytes.subarray(6), 2, 1).map((c) => c[0])], [-128, 32767]);
  assert.deepEqual([...decodeSignalFile(32, bytes.subarray(8), 1, 1)[0]!], [0x7fffff]);
});

test("damage and what cannot be read are refused with a clear code", async () => {
  await writeFile(join(dir, "bad.dat"), encode(16, [I]));
  const cases: [string, string][] = [
    [`bad 1 500 5\nbad.dat 16 200 16 0 0 ${checksum(I) + 1} 0 I\n`, "WFDB_CHECKSUM"],
    ["bad 1 500 6\nbad.dat 16 200 16 0 0 0 0 I\n", "WFDB_SIGNAL_FILE"],
    ["bad 1 500 5\nmissing.dat 16 200 16 0 0 0 0 I\n", "WFDB_SIGNAL_FILE"],
    ["bad 1 500 5\nbad.dat 8 200 8 0 0 0 0 I\n", "WFDB_FORMAT_UNSUPPORTED"],
    ["bad 1 500 5\nbad.dat 16x2 200 16 0 0 0 0 I\n", "WFDB_UNSUPPORTED"],
    ["bad/2 1 500 5\n", "WFDB_UNSUPPORTED"],
    ["bad 2 500 5\nbad.dat 16 200 16 0 0 0 0 I\n", "WFDB_HEADER_INVALID"],
    ["bad 1 500 5\nbad.dat 16 2x0 16 0 0 0 0 I\n", "WFDB_HEADER_INVALID"],
    [`bad 1 500 5\nbad.dat 16 200/mmHg 16 0 0 ${checksum(I)} 0 BP\n`, "WFDB_NO_ECG"],
  ];
  for (const [header, code] of cases) {
    await writeFile(join(dir, "bad.hea"), header);
    await assert.rejects(readWfdbRecord(join(dir, "bad.hea")), { code }, header);
  }
});

test("lead names are normalised to the record's spelling", () => {
  const cases: [string, string][] = [
    ["i", "I"],
    ["III", "III"],
    ["AVR", "aVR"],
    ["avl", "aVL"],
    [" v6 ", "V6"],
    ["lead II", "II"],
    ["v4r", "V4R"],
    ["vz", "Z"],
    ["MLII", "MLII"],
  ];
  for (const [raw, expected] of cases) assert.equal(normaliseLeadName(raw), expected, raw);
});

test("PTB-XL 00001_lr: 12 leads, 10 s at 100 Hz, 1 µV units", { skip: NO_DATA }, async () => {
  const record = await readWfdbRecord(join(wfdbData, "00001_lr.hea"));
  assert.deepEqual(
    record.rhythm.leads.map((lead) => lead.name),
    [...STANDARD_12_LEADS],
  );
  assert.equal(record.rhythm.samplingFrequencyHz, 100);
  for (const lead of record.rhythm.leads) {
    assert.equal(lead.samples.length, 1000);
    assert.equal(lead.nanovoltsPerUnit, 1000);
  }
  // The header's initial values, and Einthoven: III = II − I.
  assert.deepEqual(
    record.rhythm.leads.map((lead) => lead.samples[0]),
    [-119, -55, 64, 86, -91, 4, -69, -31, 0, -26, -39, -79],
  );
  const [leadI, leadII, leadIII] = record.rhythm.leads;
  for (let k = 0; k < 1000; k++) {
    assert.ok(Math.abs(leadIII!.samples[k]! - (leadII!.samples[k]! - leadI!.samples[k]!)) <= 1);
  }
  assert.deepEqual(record.patient, {});
});

test("PTB s0010_re: 12 leads in .dat and Frank X, Y, Z in .xyz; age and sex from the comments", {
  skip: NO_DATA,
}, async () => {
  const record = await readWfdbRecord(join(wfdbData, "s0010_re.hea"));
  assert.deepEqual(
    record.rhythm.leads.map((lead) => lead.name),
    [...STANDARD_12_LEADS, "X", "Y", "Z"],
  );
  assert.equal(record.rhythm.samplingFrequencyHz, 1000);
  assert.ok(
    record.rhythm.leads.every((lead) => lead.samples.length === 38400 && lead.nanovoltsPerUnit === 500),
  );
  assert.deepEqual(
    record.rhythm.leads.map((lead) => lead.samples[0]),
    [-489, -458, 31, 474, -260, -214, -88, -241, -112, 212, 393, 390, -3, 120, -18],
  );
  assert.deepEqual(record.patient, { age: "081Y", sex: "F" });
  assert.deepEqual(record.acquisition, { date: "19901001" });
});
