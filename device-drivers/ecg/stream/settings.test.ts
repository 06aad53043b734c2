import assert from "node:assert/strict";
import { test } from "node:test";
import { Ajv } from "ajv";
import { crc16Ccitt } from "./checksum.ts";
import { encodeFrame, readFrameAt } from "./frame.ts";
import {
  frameLength,
  resolveStreamSettings,
  STREAM_SETTINGS_DEFAULTS,
  STREAM_SETTINGS_SCHEMA,
  StreamSettingsError,
} from "./settings.ts";

test("the schema, compiled by another ajv with useDefaults, completes an empty profile to the defaults", () => {
  const validate = new Ajv({ useDefaults: true, strict: true, allErrors: true }).compile(
    STREAM_SETTINGS_SCHEMA,
  );
  const settings = {};
  assert.equal(validate(settings), true);
  assert.deepEqual(settings, STREAM_SETTINGS_DEFAULTS);
  const bad = { sampleBytes: 4, checksum: "md5" };
  assert.equal(validate(bad), false);
  assert.deepEqual(validate.errors?.map((error) => error.instancePath).sort(), ["/checksum", "/sampleBytes"]);
});

test("resolveStreamSettings fills defaults, normalises lead spelling and names the bad field", () => {
  const settings = resolveStreamSettings({ leads: ["i", "ii", "AVR", "v1"], sampleBytes: 3 });
  assert.deepEqual(settings.leads, ["I", "II", "aVR", "V1"]);
  assert.equal(settings.sampleBytes, 3);
  assert.equal(settings.samplesPerFrame, 5);
  const cases: [unknown, string][] = [
    [{ sampleBytes: 4 }, "sampleBytes"],
    [{ leads: [] }, "leads"],
    [{ sync: [0xa5, 256] }, "sync.1"],
    [{ baud: 9600 }, "baud"],
    [{ leads: ["V1", "v1"] }, "leads"],
    [{ minRecordSeconds: 12 }, "minRecordSeconds"],
    [{ recordSeconds: 10, samplingFrequencyHz: 333.33 }, "recordSeconds"],
    // 1 s at 500 Hz, one sample per frame = 500 frames: a 1-byte counter cannot tell that.
    [{ samplesPerFrame: 1 }, "maxGapSeconds"],
  ];
  for (const [input, field] of cases) {
    assert.throws(
      () => resolveStreamSettings(input),
      (error: unknown) =>
        error instanceof StreamSettingsError &&
        error.code === "ECG_STREAM_SETTINGS_INVALID" &&
        error.details?.field === field &&
        error.message.includes(field),
      JSON.stringify(input),
    );
  }
  assert.equal(resolveStreamSettings({ samplesPerFrame: 1, counterBytes: 2 }).counterBytes, 2);
});

test("resolveStreamSettings does not modify the profile object it is given", () => {
  const profile = { leads: ["avf"] };
  resolveStreamSettings(profile);
  assert.deepEqual(profile, { leads: ["avf"] });
});

test("CRC-16/CCITT-FALSE has its catalogue check value", () => {
  assert.equal(crc16Ccitt(new TextEncoder().encode("123456789")), 0x29b1);
});

test("a frame is laid out as PROTOCOL.md says", () => {
  const settings = resolveStreamSettings({
    leads: ["I", "II"],
    samplesPerFrame: 2,
    checksum: "sum8",
    maxGapSeconds: 0.5,
  });
  const frame = encodeFrame(settings, {
    counter: 258,
    status: 0x81,
    samples: Int32Array.of(1, -2, 300, -32768),
  });
  assert.equal(frame.length, frameLength(settings));
  assert.deepEqual(
    [...frame],
    [
      0xa5,
      0x5a,
      0x02,
      0x81,
      0x01,
      0x00,
      0xfe,
      0xff,
      0x2c,
      0x01,
      0x00,
      0x80,
      (0x02 + 0x81 + 0x01 + 0xfe + 0xff + 0x2c + 0x01 + 0x80) & 0xff,
    ],
  );
  const crc = resolveStreamSettings({
    leads: ["I"],
    samplesPerFrame: 1,
    counterBytes: 2,
    maxGapSeconds: 0.1,
  });
  const withCrc = encodeFrame(crc, { counter: 0x1234, status: 0, samples: Int32Array.of(-1) });
  const value = crc16Ccitt(Uint8Array.of(0x34, 0x12, 0x00, 0xff, 0xff));
  assert.deepEqual([...withCrc], [0xa5, 0x5a, 0x34, 0x12, 0x00, 0xff, 0xff, value & 0xff, value >> 8]);
});

test("3-byte samples keep their sign and full range; values that do not fit are refused", () => {
  const settings = resolveStreamSettings({ leads: ["I"], samplesPerFrame: 4, sampleBytes: 3 });
  const samples = Int32Array.of(-8388608, 8388607, -1, 65536);
  const bytes = encodeFrame(settings, { counter: 7, status: 0, samples });
  assert.deepEqual(readFrameAt(settings, bytes, 0), { counter: 7, status: 0, samples });
  assert.throws(
    () => encodeFrame(settings, { counter: 0, status: 0, samples: Int32Array.of(8388608, 0, 0, 0) }),
    { code: "ECG_STREAM_SAMPLE_RANGE" },
  );
  bytes[6] = (bytes[6] ?? 0) ^ 1;
  assert.equal(readFrameAt(settings, bytes, 0), undefined);
});
