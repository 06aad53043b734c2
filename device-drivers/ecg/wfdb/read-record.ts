/**
 * A PhysioNet WFDB record (header + signal files) as an EcgRecord, so the simulator can play the
 * PTB / PTB-XL records as a cart would. Samples stay the file's integers, less the baseline; the
 * unit size follows from the gain (nanovoltsPerUnit = 1e6 / gain for mV).
 */
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, join } from "node:path";
import type { EcgLead, EcgRecord } from "../ecg-record.ts";
import { parseWfdbHeader, WfdbError, type WfdbHeader, type WfdbSignal } from "./header.ts";
import { normaliseLeadName } from "./lead-names.ts";
import { decodeSignalFile, framesInFile } from "./signal-formats.ts";

/** Nanovolts per physical unit, for the voltage units WFDB headers use. */
const NANOVOLTS_PER: Record<string, number> = { v: 1e9, mv: 1e6, uv: 1e3, µv: 1e3, μv: 1e3, nv: 1 };

export async function readWfdbRecord(headerPath: string): Promise<EcgRecord> {
  const header = parseWfdbHeader(await readFile(headerPath, "utf8"));
  const directory = dirname(headerPath);
  const notes: string[] = [];
  const columns = new Map<WfdbSignal, Int32Array>();
  let sampleCount = header.sampleCount;
  for (const [fileName, signals] of groupByFile(header.signals)) {
    const fileColumns = await readSignalFile(directory, fileName, signals, header.sampleCount);
    signals.forEach((signal, index) => {
      columns.set(signal, fileColumns[index] as Int32Array);
    });
    const frames = fileColumns[0]?.length ?? 0;
    sampleCount = Math.min(sampleCount ?? frames, frames);
  }
  const leads: EcgLead[] = [];
  header.signals.forEach((signal, index) => {
    const raw = columns.get(signal) as Int32Array;
    verifyChecksum(signal, index, raw, header.sampleCount);
    const perUnit = NANOVOLTS_PER[signal.units.toLowerCase()];
    if (perUnit === undefined) {
      notes.push(
        `signal ${index} (${signal.description || "unnamed"}) in ${signal.units} is not a voltage: left out`,
      );
      return;
    }
    const samples = new Int32Array(sampleCount ?? 0);
    for (let k = 0; k < samples.length; k++) samples[k] = (raw[k] ?? 0) - signal.baseline;
    leads.push({
      name: signal.description ? normaliseLeadName(signal.description) : `signal ${index}`,
      samples,
      nanovoltsPerUnit: perUnit / signal.gain,
    });
  });
  if (leads.length === 0) {
    throw new WfdbError("WFDB_NO_ECG", `WFDB record ${header.recordName} has no voltage signal`);
  }
  const record: EcgRecord = {
    source: { format: "wfdb" },
    patient: patientFromComments(header.comments),
    acquisition: acquisitionTime(header),
    rhythm: { samplingFrequencyHz: header.samplingFrequencyHz, leads },
  };
  if (notes.length > 0) record.notes = notes;
  return record;
}

function groupByFile(signals: WfdbSignal[]): Map<string, WfdbSignal[]> {
  const files = new Map<string, WfdbSignal[]>();
  for (const signal of signals) {
    const group = files.get(signal.fileName) ?? [];
    group.push(signal);
    files.set(signal.fileName, group);
  }
  return files;
}

async function readSignalFile(
  directory: string,
  fileName: string,
  signals: WfdbSignal[],
  sampleCount: number | undefined,
): Promise<Int32Array[]> {
  const first = signals[0] as WfdbSignal;
  if (fileName === "-" || isAbsolute(fileName)) {
    throw new WfdbError(
      "WFDB_UNSUPPORTED",
      `signal file "${fileName}": only files beside the header are read`,
    );
  }
  for (const signal of signals) {
    if (signal.format !== first.format || signal.byteOffset !== first.byteOffset) {
      throw new WfdbError("WFDB_UNSUPPORTED", `signals in ${fileName} differ in format or byte offset`);
    }
    if (signal.samplesPerFrame !== 1 || signal.skew !== 0) {
      throw new WfdbError(
        "WFDB_UNSUPPORTED",
        `signal "${signal.description}" in ${fileName} has ${signal.samplesPerFrame} samples per frame and skew ${signal.skew}: only 1 and 0 are read`,
      );
    }
  }
  let bytes: Uint8Array;
  try {
    bytes = (await readFile(join(directory, fileName))).subarray(first.byteOffset);
  } catch (error) {
    throw new WfdbError(
      "WFDB_SIGNAL_FILE",
      `signal file ${fileName} cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
  const available = framesInFile(first.format, bytes.length, signals.length);
  if (sampleCount !== undefined && available < sampleCount) {
    throw new WfdbError(
      "WFDB_SIGNAL_FILE",
      `signal file ${fileName} holds ${available} samples per signal, the header announces ${sampleCount}`,
    );
  }
  return decodeSignalFile(first.format, bytes, signals.length, sampleCount ?? available);
}

function verifyChecksum(
  signal: WfdbSignal,
  index: number,
  raw: Int32Array,
  sampleCount: number | undefined,
): void {
  // The checksum covers the whole signal; without a stated length we cannot be sure we have it all.
  if (signal.checksum === undefined || sampleCount === undefined) return;
  let sum = 0;
  for (const value of raw) sum = (sum + value) & 0xffff;
  if (sum !== (signal.checksum & 0xffff)) {
    throw new WfdbError(
      "WFDB_CHECKSUM",
      `signal ${index} (${signal.description || "unnamed"}) in ${signal.fileName}: checksum ${sum} where the header says ${signal.checksum & 0xffff} (damaged file?)`,
    );
  }
}

/** Age and sex from PTB-style ("age: 81", "sex: female") or MIT-BIH-style ("69 M …") comments. */
function patientFromComments(comments: string[]): EcgRecord["patient"] {
  const patient: EcgRecord["patient"] = {};
  for (const comment of comments) {
    const age = /^age\s*:\s*(\d{1,3})\b/i.exec(comment);
    if (age) patient.age = `${age[1]?.padStart(3, "0")}Y`;
    const sex = /^sex\s*:\s*(\w+)/i.exec(comment);
    if (sex) setSex(patient, sex[1] ?? "");
    const mitBih = /^(\d{1,3})\s+([MF])\b/.exec(comment);
    if (mitBih && patient.age === undefined) {
      patient.age = `${mitBih[1]?.padStart(3, "0")}Y`;
      setSex(patient, mitBih[2] ?? "");
    }
  }
  return patient;
}

function setSex(patient: EcgRecord["patient"], text: string): void {
  const value = text.toLowerCase();
  if (value === "male" || value === "m") patient.sex = "M";
  else if (value === "female" || value === "f") patient.sex = "F";
}

/** Acquisition date and time from the record line, else from a PTB "ECG date:" comment (DD/MM/YYYY). */
function acquisitionTime(header: WfdbHeader): EcgRecord["acquisition"] {
  const acquisition: EcgRecord["acquisition"] = {};
  const date =
    header.baseDate ?? header.comments.map((c) => /^ECG date\s*:\s*(\S+)/i.exec(c)?.[1]).find(Boolean);
  const dmy = date ? /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(date) : null;
  if (dmy) acquisition.date = `${dmy[3]}${dmy[2]?.padStart(2, "0")}${dmy[1]?.padStart(2, "0")}`;
  const hms = header.baseTime ? /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(header.baseTime) : null;
  if (hms) acquisition.time = `${hms[1]?.padStart(2, "0")}${hms[2]}${hms[3] ?? "00"}`;
  return acquisition;
}
