/**
 * The simulator's command line: every option, its default and its check, and the --help text.
 * Stream options default to the ecg-stream protocol's defaults, so a device profile with default
 * `protocolSettings` decodes what the simulator sends without any flag.
 */
import { DxgateError } from "../../common/errors.ts";
import { INDEPENDENT_8_LEADS, STANDARD_12_LEADS } from "../../device-drivers/ecg/ecg-record.ts";
import {
  resolveStreamSettings,
  STREAM_SETTINGS_DEFAULTS,
  type StreamChecksum,
  type StreamProtocolSettings,
} from "../../device-drivers/ecg/stream/index.ts";

export type SimulatorProtocol = "ecg-stream" | "scp-ecg";
export type DropMode = "unit" | "byte";

export interface SimulatorOptions {
  protocol: SimulatorProtocol;
  /** A file to play, or undefined with `generate`. */
  sourcePath: string | undefined;
  generate: { heartRateBpm: number; seconds: number; signalNoiseMicrovolts: number; patientId?: string };
  /** Where to write: an existing tty (`device`) or a pty pair made with socat (`link`). */
  device: string | undefined;
  link: string | undefined;
  baudRate: number;
  /** Play the whole source this many times (0 = until stopped). */
  repeat: number;
  /** Or play this many records of `stream.recordSeconds` cut from the (looped) source. */
  records: number | undefined;
  /** Playback speed: 1 = real time; "max" = as fast as the line takes. */
  speed: number | "max";
  stream: StreamProtocolSettings;
  /** Garbage bytes per second of ECG, injected between frames / records. */
  noiseBytesPerSecond: number;
  /** Probability that a frame / record is hit by a drop. */
  dropRate: number;
  /** A hit loses the whole frame / record ("unit") or one byte of it ("byte"). */
  dropMode: DropMode;
  /** Random write sizes. */
  split: boolean;
  /** Cable pulls: every `pullEverySeconds` of sending, for `pullForSeconds`. */
  pullEverySeconds: number | undefined;
  pullForSeconds: number;
  /** With --link: send nothing until a reader has first opened the link. */
  waitForReader: boolean;
  /** Seconds to keep the line up after the last byte (-1: until SIGINT/SIGTERM). */
  lingerSeconds: number;
  seed: number;
  /** Print the ecg-stream protocolSettings a device profile needs, then exit. */
  printSettings: boolean;
  help: boolean;
}

export class UsageError extends DxgateError {
  constructor(message: string) {
    super("ECG_SIM_USAGE", message, 400);
    this.name = "UsageError";
  }
}

export const HELP_TEXT = `ecg-simulator — plays an ECG into a serial line, as an ECG cart or acquisition module would.

  npx node scripts/ecg-simulator.ts (--source PATH | --generate) (--link PATH | --device PATH) [options]

Source (one of):
  --source PATH            .hea  PhysioNet WFDB record (its signal files beside it)
                           .dcm  DICOM 12-lead / general ECG waveform
                           .scp  SCP-ECG record (sent as its original bytes with --protocol scp-ecg)
                           .xml  HL7 aECG, Philips SierraECG / PageWriter or GE MUSE export
  --generate               a synthetic 12-lead ECG (P-QRS-T beats), no patient
    --heart-rate BPM       beats per minute (default 72)
    --seconds S            length of the generated ECG (default: --record-seconds)
    --signal-noise-uv UV   noise on the signal, µV RMS (default 0)
    --patient-id ID        a patient ID in generated SCP-ECG records (default none)

Line (one of):
  --link PATH              run socat to make a pseudo-terminal pair; the gateway opens PATH, the
                           simulator writes into the other end. Sending starts once a reader
                           has opened PATH (log "ready": PATH exists; "sending": it was opened).
                           A cable pull removes PATH; after it, sending resumes at once (what
                           the gateway has not read by its reopen is lost, as with a real cable).
  --no-wait                with --link: send at once, read or not (a reader opening PATH later
                           misses what was sent before)
  --device PATH            write into an existing tty or pty (a cable pull closes and reopens it)
  --baud N                 baud rate (default 115200)

Protocol:
  --protocol P             ecg-stream (default): frames as a module streams them, see
                           device-drivers/ecg/stream/PROTOCOL.md; scp-ecg: whole SCP-ECG records
                           as a cart sends them, one per record length, leads and rate as the
                           source has them
  --speed X                1 = real time (default), 10 = ten times faster, max = as fast as the
                           line takes (units due during a cable pull are lost, except at max)
  --repeat N               play the whole source N times (default 1; 0 = until stopped)
  --records N              instead: play N records of --record-seconds cut from the source (looped)
  --linger S               keep the line up S seconds after the last byte (default 1; -1 = until stopped)

Stream settings (ecg-stream; the device profile's protocolSettings must say the same):
  --leads 8|12             8 = I, II, V1–V6 (default); 12 = all standard leads
  --rate HZ                sampling frequency (default ${STREAM_SETTINGS_DEFAULTS.samplingFrequencyHz}); the source is resampled
  --sample-bytes 2|3       bytes per sample (default ${STREAM_SETTINGS_DEFAULTS.sampleBytes})
  --samples-per-frame N    sample instants per frame (default ${STREAM_SETTINGS_DEFAULTS.samplesPerFrame})
  --counter-bytes 1|2      sequence counter width (default ${STREAM_SETTINGS_DEFAULTS.counterBytes})
  --checksum C             crc16-ccitt (default), sum16 or sum8
  --nv-per-unit NV         nanovolts per sample unit (default ${STREAM_SETTINGS_DEFAULTS.nanovoltsPerUnit})
  --record-seconds S       record length (default ${STREAM_SETTINGS_DEFAULTS.recordSeconds}; also the cut of --records)
  --print-settings         print the protocolSettings for a device profile as JSON and exit

Faults:
  --noise B                B random garbage bytes per second of ECG, between frames / records
  --drop-rate P            each frame / record is hit with probability P (0–1)
  --drop-mode unit|byte    a hit drops the whole frame / record (default) or one byte of it
  --split                  random write sizes, so frames and records arrive split across reads
  --pull-every S           pull the cable every S seconds of sending ...
  --pull-for S             ... for S seconds (default 3)
  --seed N                 seed of every random choice (default: random, logged)

Progress goes to stderr as JSON lines, each with "time" and "event": "start" (source, settings),
"ready" (the line can be opened: PATH exists / the device is open — wait for this one), "sending"
(bytes flow), "progress" (per record), "pull", "blocked" (nobody reads the line: writes wait),
"done", "exit", "stopping", "stopped", "error" (with "code").
SIGINT / SIGTERM stop it cleanly (socat included).
Exit status: 0 done or stopped, 1 failed, 2 bad command line.
`;

type Parsers = Record<string, (value: string, options: SimulatorOptions) => void>;

const VALUE_OPTIONS: Parsers = {
  "--source": (v, o) => {
    o.sourcePath = v;
  },
  "--heart-rate": (v, o) => {
    o.generate.heartRateBpm = number(v, "--heart-rate", 20, 300);
  },
  "--seconds": (v, o) => {
    o.generate.seconds = number(v, "--seconds", 0.1, 3600);
  },
  "--signal-noise-uv": (v, o) => {
    o.generate.signalNoiseMicrovolts = number(v, "--signal-noise-uv", 0, 10000);
  },
  "--patient-id": (v, o) => {
    o.generate.patientId = v;
  },
  "--link": (v, o) => {
    o.link = v;
  },
  "--device": (v, o) => {
    o.device = v;
  },
  "--baud": (v, o) => {
    o.baudRate = integer(v, "--baud", 50, 4000000);
  },
  "--protocol": (v, o) => {
    if (v !== "ecg-stream" && v !== "scp-ecg") throw new UsageError(`--protocol ${v}: ecg-stream or scp-ecg`);
    o.protocol = v;
  },
  "--speed": (v, o) => {
    o.speed = v === "max" ? "max" : number(v, "--speed", 0.01, 10000);
  },
  "--repeat": (v, o) => {
    o.repeat = integer(v, "--repeat", 0, 1e9);
  },
  "--records": (v, o) => {
    o.records = integer(v, "--records", 1, 1e9);
  },
  "--linger": (v, o) => {
    o.lingerSeconds = v === "-1" ? -1 : number(v, "--linger", 0, 86400);
  },
  "--noise": (v, o) => {
    o.noiseBytesPerSecond = number(v, "--noise", 0, 1e6);
  },
  "--drop-rate": (v, o) => {
    o.dropRate = number(v, "--drop-rate", 0, 1);
  },
  "--drop-mode": (v, o) => {
    if (v !== "unit" && v !== "byte") throw new UsageError(`--drop-mode ${v}: unit or byte`);
    o.dropMode = v;
  },
  "--pull-every": (v, o) => {
    o.pullEverySeconds = number(v, "--pull-every", 0.1, 86400);
  },
  "--pull-for": (v, o) => {
    o.pullForSeconds = number(v, "--pull-for", 0, 86400);
  },
  "--seed": (v, o) => {
    o.seed = integer(v, "--seed", 0, 2 ** 32 - 1);
  },
};

/** Stream settings options, collected raw and validated together by the stream's own rules. */
const STREAM_OPTIONS: Record<string, (value: string, raw: Record<string, unknown>) => void> = {
  "--leads": (v, raw) => {
    if (v !== "8" && v !== "12") throw new UsageError(`--leads ${v}: 8 or 12`);
    raw.leads = v === "8" ? [...INDEPENDENT_8_LEADS] : [...STANDARD_12_LEADS];
  },
  "--rate": (v, raw) => {
    raw.samplingFrequencyHz = number(v, "--rate", 1, 1e6);
  },
  "--sample-bytes": (v, raw) => {
    raw.sampleBytes = integer(v, "--sample-bytes", 0, 100);
  },
  "--samples-per-frame": (v, raw) => {
    raw.samplesPerFrame = integer(v, "--samples-per-frame", 0, 1e6);
  },
  "--counter-bytes": (v, raw) => {
    raw.counterBytes = integer(v, "--counter-bytes", 0, 100);
  },
  "--checksum": (v, raw) => {
    raw.checksum = v as StreamChecksum;
  },
  "--nv-per-unit": (v, raw) => {
    raw.nanovoltsPerUnit = number(v, "--nv-per-unit", 0, 1e9);
  },
  "--record-seconds": (v, raw) => {
    raw.recordSeconds = number(v, "--record-seconds", 0, 1e6);
  },
};

const FLAGS: Record<string, (options: SimulatorOptions) => void> = {
  "--generate": () => {},
  "--split": (o) => {
    o.split = true;
  },
  "--no-wait": (o) => {
    o.waitForReader = false;
  },
  "--print-settings": (o) => {
    o.printSettings = true;
  },
  "--help": (o) => {
    o.help = true;
  },
  "-h": (o) => {
    o.help = true;
  },
};

export function parseSimulatorArgs(
  argv: readonly string[],
  randomSeed = () => Date.now() >>> 0,
): SimulatorOptions {
  const options: SimulatorOptions = {
    protocol: "ecg-stream",
    sourcePath: undefined,
    generate: { heartRateBpm: 72, seconds: Number.NaN, signalNoiseMicrovolts: 0 },
    device: undefined,
    link: undefined,
    baudRate: 115200,
    repeat: 1,
    records: undefined,
    speed: 1,
    stream: resolveStreamSettings({}),
    noiseBytesPerSecond: 0,
    dropRate: 0,
    dropMode: "unit",
    split: false,
    pullEverySeconds: undefined,
    pullForSeconds: 3,
    lingerSeconds: 1,
    waitForReader: true,
    seed: Number.NaN,
    printSettings: false,
    help: false,
  };
  const rawStream: Record<string, unknown> = {};
  let generate = false;
  for (let k = 0; k < argv.length; k++) {
    const argument = argv[k] as string;
    const [name, inline] =
      argument.startsWith("--") && argument.includes("=") ? splitOnce(argument) : [argument];
    const flag = FLAGS[name];
    if (flag) {
      if (inline !== undefined) throw new UsageError(`${name} takes no value`);
      if (name === "--generate") generate = true;
      flag(options);
      continue;
    }
    const parser = VALUE_OPTIONS[name];
    const streamParser = STREAM_OPTIONS[name];
    if (!parser && !streamParser) throw new UsageError(`unknown option ${argument} (see --help)`);
    const value = inline ?? argv[++k];
    if (value === undefined) throw new UsageError(`${name} needs a value`);
    if (parser) parser(value, options);
    else streamParser?.(value, rawStream);
  }
  if (options.help) return options;
  try {
    options.stream = resolveStreamSettings(rawStream);
  } catch (error) {
    throw new UsageError(`stream settings: ${(error as Error).message}`);
  }
  if (Number.isNaN(options.generate.seconds)) options.generate.seconds = options.stream.recordSeconds;
  if (Number.isNaN(options.seed)) options.seed = randomSeed();
  if (options.printSettings) return options;
  if (generate === (options.sourcePath !== undefined)) {
    throw new UsageError("give either --source PATH or --generate");
  }
  if ((options.link === undefined) === (options.device === undefined)) {
    throw new UsageError("give either --link PATH or --device PATH");
  }
  return options;
}

function splitOnce(argument: string): [string, string] {
  const at = argument.indexOf("=");
  return [argument.slice(0, at), argument.slice(at + 1)];
}

function number(text: string, name: string, min: number, max: number): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < min || value > max) {
    throw new UsageError(`${name} ${text}: a number from ${min} to ${max}`);
  }
  return value;
}

function integer(text: string, name: string, min: number, max: number): number {
  const value = number(text, name, min, max);
  if (!Number.isInteger(value)) throw new UsageError(`${name} ${text}: a whole number`);
  return value;
}
