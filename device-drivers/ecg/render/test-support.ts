/**
 * A synthetic but ECG-like record for tests and for looking at the sheet: a normal sinus rhythm
 * built from Gaussian P, Q, R, S and T waves with textbook amplitudes per lead, I and II first and
 * the other limb leads computed from them (so III = II − I holds as in a real ECG). Deterministic:
 * the same options give the same samples. Not used by production code.
 */
import type { EcgLead, EcgRecord } from "../ecg-record.ts";

interface Wave {
  /** Centre relative to the R peak (s). */
  at: number;
  /** Gaussian width (s). */
  width: number;
}

const WAVES: Record<"p" | "q" | "r" | "s" | "t", Wave> = {
  p: { at: -0.17, width: 0.022 },
  q: { at: -0.028, width: 0.008 },
  r: { at: 0, width: 0.01 },
  s: { at: 0.028, width: 0.01 },
  t: { at: 0.3, width: 0.045 },
};

/** Amplitudes in mV of P, Q, R, S, T per measured lead (a normal adult ECG). */
const AMPLITUDES_MV: Record<string, [number, number, number, number, number]> = {
  I: [0.1, -0.06, 0.75, -0.12, 0.22],
  II: [0.16, -0.05, 1.25, -0.2, 0.32],
  V1: [0.07, 0, 0.25, -1.05, -0.08],
  V2: [0.08, 0, 0.45, -1.5, 0.55],
  V3: [0.08, -0.02, 0.85, -0.85, 0.5],
  V4: [0.09, -0.05, 1.45, -0.45, 0.45],
  V5: [0.09, -0.08, 1.35, -0.22, 0.38],
  V6: [0.09, -0.07, 1.05, -0.1, 0.3],
};

export interface SyntheticEcgOptions {
  samplingFrequencyHz?: number;
  seconds?: number;
  heartRateBpm?: number;
  nanovoltsPerUnit?: number;
  /** Leads to include (default the 12 standard ones); III, aVR, aVL, aVF are computed from I and II. */
  leads?: readonly string[];
}

export function syntheticEcgRecord(options: SyntheticEcgOptions = {}): EcgRecord {
  const fs = options.samplingFrequencyHz ?? 500;
  const seconds = options.seconds ?? 10;
  const rate = options.heartRateBpm ?? 72;
  const nv = options.nanovoltsPerUnit ?? 2500;
  const names = options.leads ?? ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"];
  const length = Math.round(seconds * fs);
  const rr = 60 / rate;
  const millivolts = (lead: string, t: number): number => {
    const amplitudes = AMPLITUDES_MV[lead];
    if (!amplitudes) return 0;
    // The beat whose R peak is nearest, with the first R at 0.35 s.
    const beat = Math.round((t - 0.35) / rr);
    let value = 0;
    for (const b of [beat - 1, beat, beat + 1]) {
      const rPeak = 0.35 + b * rr;
      (["p", "q", "r", "s", "t"] as const).forEach((name, index) => {
        const wave = WAVES[name];
        const d = t - rPeak - wave.at;
        value += amplitudes[index]! * Math.exp(-(d * d) / (2 * wave.width * wave.width));
      });
    }
    // A slow respiratory baseline sway, as real recordings have.
    return value + 0.03 * Math.sin(2 * Math.PI * 0.25 * t);
  };
  const limb: Record<string, (i: number, ii: number) => number> = {
    III: (i, ii) => ii - i,
    aVR: (i, ii) => -(i + ii) / 2,
    aVL: (i, ii) => i - ii / 2,
    aVF: (i, ii) => ii - i / 2,
  };
  const leads: EcgLead[] = names.map((name) => {
    const samples = new Int32Array(length);
    for (let k = 0; k < length; k++) {
      const t = k / fs;
      const formula = limb[name];
      const mv = formula ? formula(millivolts("I", t), millivolts("II", t)) : millivolts(name, t);
      samples[k] = Math.round((mv * 1e6) / nv);
    }
    return { name, samples, nanovoltsPerUnit: nv };
  });
  return {
    source: { format: "synthetic" },
    patient: { id: "SYN-0001", name: "测试^患者", sex: "M", age: "052Y", birthDate: "19720304" },
    acquisition: {
      date: "20240518",
      time: "093015",
      manufacturer: "dxgate",
      model: "synthetic",
      institution: "测试卫生院",
      highPassHz: 0.05,
      lowPassHz: 150,
      notchHz: 50,
    },
    rhythm: { samplingFrequencyHz: fs, leads },
    measurements: {
      heartRateBpm: rate,
      rrIntervalMs: rr * 1000,
      prIntervalMs: 160,
      qrsDurationMs: 88,
      qtIntervalMs: 380,
      qtcIntervalMs: Math.round(380 / Math.sqrt(rr)),
      pAxisDeg: 55,
      qrsAxisDeg: 48,
      tAxisDeg: 40,
    },
    statements: ["窦性心律", "正常心电图"],
  };
}

const STANDARD_SPELLING: Record<string, string> = {
  i: "I",
  ii: "II",
  iii: "III",
  avr: "aVR",
  avl: "aVL",
  avf: "aVF",
};

/**
 * A PhysioNet WFDB record in format 16 (the only format of the records in ../shared/data/ecg-wfdb),
 * as an EcgRecord, so the sheet can be checked on real ECGs. Just enough of the header format for
 * those files: one or more signal files, gain in ADC units per mV, baseline = 0. Not a general
 * WFDB reader (the stream helper's is).
 */
export async function readWfdbFormat16(headerPath: string): Promise<EcgRecord> {
  const { readFile } = await import("node:fs/promises");
  const { dirname, join } = await import("node:path");
  const lines = (await readFile(headerPath, "latin1")).split(/\r?\n/).filter((l) => l && !l.startsWith("#"));
  const [, signalCountText, frequencyText, lengthText] = lines[0]!.trim().split(/\s+/);
  const signalCount = Number(signalCountText);
  const fs = Number.parseFloat(frequencyText!);
  const length = Number(lengthText);
  const signals = lines.slice(1, 1 + signalCount).map((line) => {
    const fields = line.trim().split(/\s+/);
    if (fields[1] !== "16") throw new Error(`only WFDB format 16 is read here, not ${fields[1]}`);
    const gain = Number.parseFloat(fields[2]!);
    const name = fields[8] ?? "";
    const upper = /^v\d+r?$/i.test(name) ? name.toUpperCase() : name;
    return { file: fields[0]!, adcPerMv: gain, name: STANDARD_SPELLING[name.toLowerCase()] ?? upper };
  });
  const files = [...new Set(signals.map((s) => s.file))];
  const leads: EcgLead[] = [];
  for (const file of files) {
    const inFile = signals.filter((s) => s.file === file);
    const bytes = await readFile(join(dirname(headerPath), file));
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    inFile.forEach((signal, column) => {
      const samples = new Int32Array(length);
      for (let k = 0; k < length; k++) samples[k] = view.getInt16((k * inFile.length + column) * 2, true);
      leads.push({ name: signal.name, samples, nanovoltsPerUnit: 1e6 / signal.adcPerMv });
    });
  }
  return {
    source: { format: "wfdb" },
    patient: {},
    acquisition: {},
    rhythm: { samplingFrequencyHz: fs, leads },
  };
}
