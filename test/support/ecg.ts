/**
 * Helpers for the ECG integration tests (test/ecg-*.test.ts): run the ECG simulator into a pty,
 * find the ECG studies a gateway stored, fetch them from the reading centre, and check a DICOM ECG
 * with dciodvfy and sample by sample against what was sent.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { dciodvfy, EXPLAINED_WARNINGS, hasTool } from "../../device-drivers/ecg/dicom/test-support.ts";
import type { EcgLead, EcgRecord } from "../../device-drivers/ecg/ecg-record.ts";
import { eventually, ROOT } from "./processes.ts";
import type { ReadingCentreClient } from "./stack.ts";

export const SHARED_DATA = join(ROOT, "..", "shared", "data");
export const SHARED_SKIP = existsSync(SHARED_DATA)
  ? false
  : `../shared/data is absent (${SHARED_DATA}): the real ECG files are NOT played through a pty here`;
export const DCIODVFY_SKIP = hasTool("dciodvfy")
  ? false
  : "dciodvfy (dicom3tools) is not installed: DICOM ECG IOD checks are SKIPPED (apt-get install dicom3tools)";

export const TWELVE_LEAD_ECG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.9.1.1";

export interface SimulatorRun {
  code: number | null;
  /** The simulator's JSON progress lines (stderr). */
  events: Array<{ event: string; [key: string]: unknown }>;
}

/** Plays an ECG with scripts/ecg-simulator.ts and resolves when it exits (rejects after `timeoutMs`). */
export function runSimulator(args: string[], timeoutMs = 60_000): Promise<SimulatorRun> {
  const child = spawn(process.execPath, [join(ROOT, "scripts", "ecg-simulator.ts"), ...args], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "pipe"],
  });
  const events: SimulatorRun["events"] = [];
  const raw: string[] = [];
  createInterface({ input: child.stderr! }).on("line", (line) => {
    raw.push(line);
    try {
      events.push(JSON.parse(line) as SimulatorRun["events"][number]);
    } catch {
      // not a progress line
    }
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`simulator did not finish in ${timeoutMs} ms:\n${raw.slice(-20).join("\n")}`));
    }, timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      // Let readline deliver the last lines.
      setImmediate(() => resolve({ code, events }));
    });
  });
}

interface BoxStudy {
  studyInstanceUid: string;
  modalities: string[];
  state: string;
  priority: string;
  registrationId: string | null;
  unregistered: boolean;
  patient: { id: string; name: string; sex: string; birthDate: string };
}

export async function boxStudies(gatewayHttp: number): Promise<BoxStudy[]> {
  return (await (await fetch(`http://127.0.0.1:${gatewayHttp}/api/studies`)).json()) as BoxStudy[];
}

/** Waits for `count` ECG studies at the box that are not in `known`; adds them to `known`. */
export async function newEcgStudies(
  gatewayHttp: number,
  known: Set<string>,
  count = 1,
  timeoutMs = 30_000,
): Promise<BoxStudy[]> {
  const found = await eventually(
    async () => {
      const fresh = (await boxStudies(gatewayHttp)).filter(
        (s) => s.modalities.includes("ECG") && !known.has(s.studyInstanceUid),
      );
      return fresh.length >= count ? fresh : undefined;
    },
    timeoutMs,
    `${count} new ECG stud${count === 1 ? "y" : "ies"} at the box`,
  );
  for (const study of found) known.add(study.studyInstanceUid);
  return found;
}

export interface CountyInstance {
  sopInstanceUid: string;
  sopClassUid: string;
  bytes: Uint8Array;
}

/** The study's instances as the reading centre serves them, once it holds the study. */
export async function countyInstances(
  county: ReadingCentreClient,
  studyInstanceUid: string,
): Promise<CountyInstance[]> {
  await eventually(
    async () => {
      const list = await county.json<Array<{ studyInstanceUid: string }>>("/api/worklist");
      return list.find((s) => s.studyInstanceUid === studyInstanceUid);
    },
    30_000,
    `study ${studyInstanceUid} at the reading centre`,
  );
  const detail = await county.json<{ instances: Array<{ sopInstanceUid: string; sopClassUid: string }> }>(
    `/api/studies/${studyInstanceUid}`,
  );
  const instances: CountyInstance[] = [];
  for (const instance of detail.instances) {
    const res = await county.get(`/api/instances/${instance.sopInstanceUid}`);
    assert.equal(res.status, 200);
    instances.push({ ...instance, bytes: new Uint8Array(await res.arrayBuffer()) });
  }
  return instances;
}

/** dciodvfy finds no error and no warning beyond the explained ones (test-support of ecg/dicom). */
export function assertValidDicomEcg(bytes: Uint8Array, what: string): void {
  const result = dciodvfy(bytes, EXPLAINED_WARNINGS);
  assert.deepEqual(result.errors, [], `${what}: dciodvfy errors\n${result.output}`);
  assert.deepEqual(result.unexplainedWarnings, [], `${what}: dciodvfy warnings\n${result.output}`);
}

/**
 * Every lead of `expected` (or those named) is in `actual` with the same samples in physical units,
 * within quantisation: one unit of the coarser of the two unit sizes.
 */
export function assertSameSamples(actual: EcgRecord, expected: EcgRecord, leads?: readonly string[]): void {
  assert.equal(actual.rhythm.samplingFrequencyHz, expected.rhythm.samplingFrequencyHz, "sampling frequency");
  const names = leads ?? expected.rhythm.leads.map((l) => l.name);
  for (const name of names) {
    const want = expected.rhythm.leads.find((l) => l.name === name);
    const got = actual.rhythm.leads.find((l) => l.name === name);
    assert.ok(want, `expected lead ${name}`);
    assert.ok(got, `lead ${name} arrived`);
    assert.equal(got.samples.length, want.samples.length, `lead ${name}: sample count`);
    const tolerance = Math.max(got.nanovoltsPerUnit, want.nanovoltsPerUnit);
    const worst = worstDifference(got, want);
    assert.ok(
      worst.nv <= tolerance,
      `lead ${name}: sample ${worst.at} differs by ${worst.nv} nV (> ${tolerance})`,
    );
  }
}

function worstDifference(a: EcgLead, b: EcgLead): { nv: number; at: number } {
  let worst = { nv: 0, at: -1 };
  for (let k = 0; k < a.samples.length; k++) {
    const nv = Math.abs(a.samples[k]! * a.nanovoltsPerUnit - b.samples[k]! * b.nanovoltsPerUnit);
    if (nv > worst.nv) worst = { nv, at: k };
  }
  return worst;
}
