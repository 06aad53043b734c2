/**
 * Test helpers for the DICOM service tests: a sink that really stores (rename + fsync) into a temp
 * directory, the DCMTK command-line tools, and Part 10 byte helpers. Not used by production code.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fsyncFile, renameDurable } from "../../common/durable-file.ts";
import { createLogger, type Logger } from "../../common/logger.ts";
import type { InstanceSink, ReceivedInstance, StoreResult } from "../types.ts";
import { datasetOffset } from "./part10.ts";

export interface TestSink extends InstanceSink {
  readonly dir: string;
  /** Every instance the sink accepted, in order. */
  readonly received: ReceivedInstance[];
  /** Where each stored instance ended up, by SOP Instance UID. */
  readonly storedPaths: Map<string, string>;
}

/**
 * A sink storing `<dir>/store/<sopInstanceUid>.dcm` durably; `decide` may refuse, report a
 * duplicate or throw instead (it runs before anything is moved, like a sink that is full).
 */
export async function makeTestSink(
  decide?: (instance: ReceivedInstance) => StoreResult | Promise<StoreResult>,
) {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-dicom-"));
  await mkdir(join(dir, "staging"));
  const received: ReceivedInstance[] = [];
  const storedPaths = new Map<string, string>();
  const sink: TestSink = {
    dir,
    received,
    storedPaths,
    async stagingPath() {
      return join(dir, "staging", `${randomUUID()}.part`);
    },
    async store(instance) {
      const verdict = decide ? await decide(instance) : { status: "stored" as const };
      if (instance.part10.kind !== "file") throw new Error("test sink expects a staged file");
      // The sink owns the staged file: an instance it already holds is simply dropped.
      if (verdict.status === "duplicate") await rm(instance.part10.path, { force: true });
      if (verdict.status !== "stored") return verdict;
      const target = join(dir, "store", `${instance.attributes.sopInstanceUid}.dcm`);
      await fsyncFile(instance.part10.path);
      await renameDurable(instance.part10.path, target);
      received.push(instance);
      storedPaths.set(instance.attributes.sopInstanceUid, target);
      return verdict;
    },
  };
  return sink;
}

export async function removeTestSink(sink: TestSink): Promise<void> {
  await rm(sink.dir, { recursive: true, force: true });
}

/** Files left in the staging directory (a refused or failed C-STORE must leave none). */
export async function stagingLeftovers(sink: TestSink): Promise<string[]> {
  return readdir(join(sink.dir, "staging"));
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a DCMTK tool; resolves with its exit code and output whatever the code (10 s timeout). */
export function runTool(command: string, args: string[]): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 10_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The dataset part of a Part 10 file on disk (everything after the file meta group). */
export async function datasetBytesOf(path: string): Promise<Buffer> {
  const bytes = await readFile(path);
  return bytes.subarray(datasetOffset(bytes));
}

/** A debug-level logger whose lines (parsed JSON) a test can read back. */
export function captureLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new PassThrough();
  let pending = "";
  destination.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    const complete = pending.split("\n");
    pending = complete.pop() ?? "";
    for (const line of complete) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  return { log: createLogger({ name: "test", level: "debug", destination }), lines };
}

/** Resolve once `predicate` holds, polling every 10 ms; reject after `timeoutMs`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
