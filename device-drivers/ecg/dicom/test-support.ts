/**
 * For the tests of this folder: ECG records generated here (so the suite runs on a fresh clone),
 * and the external checkers, dicom3tools' dciodvfy and DCMTK's dcmdump, run on written files.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { EcgLead, EcgRecord, EcgWaveform } from "../ecg-record.ts";
import { STANDARD_12_LEADS } from "../ecg-record.ts";
import { type DcmjsDataset, readPart10, TAG, writePart10 } from "./dcmjs.ts";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
/** The shared sample corpus next to the checkout (absent on a fresh clone: tests skip loudly). */
export const SHARED_DATA = join(repoRoot, "..", "shared", "data");
export const MORTARA_ECG = join(SHARED_DATA, "ecg-dicom", "waveform_ecg.dcm");

/** Relative amplitude of the P, QRS and T waves per lead (roughly a normal adult 12-lead). */
const LEAD_SHAPE: Record<string, [p: number, qrs: number, t: number]> = {
  I: [0.1, 0.7, 0.2],
  II: [0.15, 1.1, 0.3],
  III: [0.05, 0.4, 0.1],
  aVR: [-0.12, -0.9, -0.25],
  aVL: [0.03, 0.15, 0.05],
  aVF: [0.1, 0.75, 0.2],
  V1: [0.05, -0.8, -0.1],
  V2: [0.08, 1.2, 0.4],
  V3: [0.08, 1.3, 0.45],
  V4: [0.1, 1.6, 0.45],
  V5: [0.1, 1.4, 0.35],
  V6: [0.1, 1.0, 0.3],
};

/**
 * A synthetic resting ECG: Gaussian P, QRS and T at `heartRateBpm`, in millivolts × amplitude,
 * quantised to `nanovoltsPerUnit`, with a little deterministic noise so no two leads are equal.
 */
export function syntheticWaveform(options: {
  leads: readonly string[];
  samplingFrequencyHz: number;
  seconds: number;
  nanovoltsPerUnit?: number;
  heartRateBpm?: number;
  amplitude?: number;
}): EcgWaveform {
  const hz = options.samplingFrequencyHz;
  const count = Math.round(options.seconds * hz);
  const nv = options.nanovoltsPerUnit ?? 2500;
  const beat = 60 / (options.heartRateBpm ?? 72);
  const amplitude = options.amplitude ?? 1;
  const leads: EcgLead[] = options.leads.map((name, leadIndex) => {
    const [p, qrs, t] = LEAD_SHAPE[name] ?? [0.1, 0.8 - leadIndex * 0.05, 0.2];
    const samples = new Int32Array(count);
    let noise = 12345 + leadIndex * 7919;
    for (let index = 0; index < count; index += 1) {
      const phase = (index / hz) % beat;
      const gauss = (centre: number, width: number) => Math.exp(-(((phase - centre) / width) ** 2));
      const millivolts = p * gauss(0.15, 0.03) + qrs * gauss(0.32, 0.012) + t * gauss(0.58, 0.05);
      noise = (noise * 1103515245 + 12345) % 2147483648;
      const jitter = (noise / 2147483648 - 0.5) * 0.01;
      samples[index] = Math.round(((millivolts + jitter) * amplitude * 1e6) / nv);
    }
    return { name, samples, nanovoltsPerUnit: nv };
  });
  return { samplingFrequencyHz: hz, leads };
}

/** A 10-s 12-lead record at 500 Hz with patient and device data, and nothing else. */
export function synthetic12LeadRecord(overrides: Partial<EcgRecord> = {}): EcgRecord {
  return {
    source: { format: "synthetic" },
    patient: { id: "P-0001", name: "TEST^PATIENT", sex: "F", birthDate: "19700101", age: "055Y" },
    acquisition: {
      date: "20250314",
      time: "093015",
      manufacturer: "Test Carts Ltd",
      model: "TC-12",
      deviceSerialNumber: "SN-42",
      softwareVersion: "1.2.3",
      lowPassHz: 150,
      highPassHz: 0.05,
      notchHz: 50,
    },
    rhythm: syntheticWaveform({ leads: STANDARD_12_LEADS, samplingFrequencyHz: 500, seconds: 10 }),
    ...overrides,
  };
}

export interface ToolResult {
  available: boolean;
  status: number | null;
  output: string;
}

/** Run `command` on `bytes` written to a temporary file; `available` false when it is not installed. */
export function runOnFile(command: string, args: readonly string[], bytes: Uint8Array): ToolResult {
  const dir = mkdtempSync(join(tmpdir(), "dxgate-dicom-ecg-"));
  try {
    const path = join(dir, "ecg.dcm");
    writeFileSync(path, bytes);
    const result = spawnSync(command, [...args, path], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (result.error && (result.error as NodeJS.ErrnoException).code === "ENOENT")
      return { available: false, status: null, output: "" };
    return { available: true, status: result.status, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** True when `command` can be started (checked once per name). */
const toolCache = new Map<string, boolean>();
export function hasTool(command: string): boolean {
  let found = toolCache.get(command);
  if (found === undefined) {
    const result = spawnSync(command, [], { encoding: "utf8" });
    found = !(result.error && (result.error as NodeJS.ErrnoException).code === "ENOENT");
    toolCache.set(command, found);
  }
  return found;
}

/**
 * dciodvfy's findings: its "Error" lines, and its "Warning" lines minus those `expected` explains
 * (each a pattern with the reason it is acceptable, so a test failure shows what is new).
 */
export function dciodvfy(
  bytes: Uint8Array,
  expected: ReadonlyArray<{ pattern: RegExp; reason: string }> = [],
): { errors: string[]; unexplainedWarnings: string[]; output: string } {
  const result = runOnFile("dciodvfy", ["-new"], bytes);
  const lines = result.output.split("\n").map((line) => line.trim());
  return {
    errors: lines.filter((line) => /^Error\b|- Error -/.test(line)),
    unexplainedWarnings: lines.filter(
      (line) => /^Warning\b|- Warning -/.test(line) && !expected.some(({ pattern }) => pattern.test(line)),
    ),
    output: result.output,
  };
}

/**
 * dciodvfy warnings our objects may draw, each with why it is acceptable. Anything else fails.
 * - Study ID (0020,0010) is Type 2 and left empty when the ECG is not linked to a scheduled
 *   procedure: there is no identifier to give it, and inventing one would mislead; dciodvfy only
 *   notes a DICOMDIR would want one.
 * - Patient ID (0010,0020), Type 2, is empty when neither the device nor a registration gave one
 *   (acquisition modules stream no patient data, de-identified exports carry none); same note.
 */
export const EXPLAINED_WARNINGS: ReadonlyArray<{ pattern: RegExp; reason: string }> = [
  {
    pattern: /StudyID\(0020,0010\).*needed to build DICOMDIR/,
    reason: "Study ID is empty when the ECG is not linked to a scheduled procedure",
  },
  {
    pattern: /PatientID\(0010,0020\).*needed to build DICOMDIR/,
    reason: "Patient ID is empty when neither the device nor the registration gave one",
  },
];

export const DCIODVFY_MISSING =
  "dciodvfy (dicom3tools) is not installed: the IOD checks are SKIPPED (CI installs dicom3tools; apt-get install dicom3tools)";
export const DCMDUMP_MISSING = "dcmdump (DCMTK) is not installed: the dcmdump parse checks are SKIPPED";

/** The same object re-encoded in Implicit VR Little Endian (through dcmjs), to test the reader on it. */
export function asImplicitVrLittleEndian(bytes: Uint8Array): Uint8Array {
  const { meta, dataset } = readPart10(bytes);
  const implicitMeta: DcmjsDataset = {
    ...meta,
    [TAG.TransferSyntaxUID]: { vr: "UI", Value: ["1.2.840.10008.1.2"] },
  };
  return writePart10(implicitMeta, dataset);
}
