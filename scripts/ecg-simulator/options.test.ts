import assert from "node:assert/strict";
import { test } from "node:test";
import { STANDARD_12_LEADS } from "../../device-drivers/ecg/ecg-record.ts";
import { STREAM_SETTINGS_DEFAULTS } from "../../device-drivers/ecg/stream/index.ts";
import { HELP_TEXT, parseSimulatorArgs } from "./options.ts";

const seed = () => 42;

test("defaults: ecg-stream at real time with the stream protocol's default settings", () => {
  const options = parseSimulatorArgs(["--generate", "--link", "/tmp/x"], seed);
  assert.equal(options.protocol, "ecg-stream");
  assert.equal(options.speed, 1);
  assert.equal(options.repeat, 1);
  assert.equal(options.records, undefined);
  assert.equal(options.seed, 42);
  assert.equal(options.waitForReader, true);
  assert.deepEqual(options.stream, STREAM_SETTINGS_DEFAULTS);
  assert.equal(options.generate.seconds, 10);
});

test("every option is read, in both --name value and --name=value forms", () => {
  const options = parseSimulatorArgs(
    [
      "--source=/data/a.hea",
      "--device",
      "/dev/ttyUSB0",
      "--baud=9600",
      "--protocol",
      "scp-ecg",
      "--speed",
      "max",
      "--records",
      "4",
      "--leads",
      "12",
      "--rate",
      "1000",
      "--sample-bytes",
      "3",
      "--samples-per-frame",
      "10",
      "--counter-bytes",
      "2",
      "--checksum",
      "sum8",
      "--nv-per-unit",
      "2500",
      "--record-seconds",
      "5",
      "--noise",
      "50",
      "--drop-rate",
      "0.1",
      "--drop-mode",
      "byte",
      "--split",
      "--pull-every",
      "2",
      "--pull-for",
      "0.5",
      "--seed",
      "7",
      "--linger",
      "-1",
      "--no-wait",
    ],
    seed,
  );
  assert.equal(options.sourcePath, "/data/a.hea");
  assert.equal(options.device, "/dev/ttyUSB0");
  assert.equal(options.baudRate, 9600);
  assert.equal(options.protocol, "scp-ecg");
  assert.equal(options.speed, "max");
  assert.equal(options.records, 4);
  assert.deepEqual(options.stream.leads, [...STANDARD_12_LEADS]);
  assert.equal(options.stream.samplingFrequencyHz, 1000);
  assert.equal(options.stream.sampleBytes, 3);
  assert.equal(options.stream.samplesPerFrame, 10);
  assert.equal(options.stream.counterBytes, 2);
  assert.equal(options.stream.checksum, "sum8");
  assert.equal(options.stream.nanovoltsPerUnit, 2500);
  assert.equal(options.stream.recordSeconds, 5);
  assert.equal(options.noiseBytesPerSecond, 50);
  assert.equal(options.dropRate, 0.1);
  assert.equal(options.dropMode, "byte");
  assert.equal(options.split, true);
  assert.equal(options.pullEverySeconds, 2);
  assert.equal(options.pullForSeconds, 0.5);
  assert.equal(options.seed, 7);
  assert.equal(options.lingerSeconds, -1);
  assert.equal(options.waitForReader, false);
});

test("bad command lines are refused with a message naming the option", () => {
  const cases: [string[], RegExp][] = [
    [["--link", "/tmp/x"], /--source PATH or --generate/],
    [["--generate", "--source", "a.hea", "--link", "/tmp/x"], /--source PATH or --generate/],
    [["--generate"], /--link PATH or --device PATH/],
    [["--generate", "--link", "/tmp/x", "--device", "/dev/ttyS0"], /--link PATH or --device PATH/],
    [["--generate", "--link", "/tmp/x", "--speed", "fast"], /--speed fast/],
    [["--generate", "--link", "/tmp/x", "--drop-rate", "2"], /--drop-rate 2/],
    [["--generate", "--link", "/tmp/x", "--leads", "7"], /--leads 7/],
    [["--generate", "--link", "/tmp/x", "--sample-bytes", "4"], /sampleBytes/],
    [["--generate", "--link", "/tmp/x", "--samples-per-frame", "1"], /maxGapSeconds/],
    [["--generate", "--link", "/tmp/x", "--records", "1.5"], /--records 1.5: a whole number/],
    [["--generate", "--link", "/tmp/x", "--frobnicate"], /unknown option --frobnicate/],
    [["--generate", "--link"], /--link needs a value/],
    [["--split=yes"], /--split takes no value/],
  ];
  for (const [argv, message] of cases) {
    assert.throws(() => parseSimulatorArgs(argv, seed), { code: "ECG_SIM_USAGE", message }, argv.join(" "));
  }
});

test("--help and --print-settings need nothing else; the help names every option it parses", () => {
  assert.equal(parseSimulatorArgs(["--help"]).help, true);
  const settings = parseSimulatorArgs(["--print-settings", "--leads", "12"], seed);
  assert.equal(settings.printSettings, true);
  assert.equal(settings.stream.leads.length, 12);
  for (const option of HELP_TEXT.matchAll(/^\s+(--[a-z-]+)/gm)) {
    const name = option[1] as string;
    if (["--help", "--generate", "--split", "--print-settings", "--no-wait"].includes(name)) continue;
    assert.throws(() => parseSimulatorArgs([name]), { message: new RegExp(`${name} needs a value`) }, name);
  }
});
