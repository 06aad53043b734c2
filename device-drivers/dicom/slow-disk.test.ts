/**
 * A slow staging disk: the network is paused instead of buffering the dataset in memory, and an
 * association cut mid-dataset leaves no staging file and stores nothing.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { makeDicomFile } from "../../test/fixtures/make-dicom.ts";
import { createDicomService, type DicomService } from "./dicom-service.ts";
import {
  captureLogger,
  datasetBytesOf,
  makeTestSink,
  removeTestSink,
  runTool,
  stagingLeftovers,
  type TestSink,
  waitFor,
} from "./test-support.ts";

let sink: TestSink;
let service: DicomService;
let port: number;
let lines: Array<Record<string, unknown>>;
/** A Part 10 file of 10 MiB (512 × 512 × 40 frames, 8 bits): over the writer's 4 MiB high-water mark. */
let large: { path: string; sopInstanceUid: string };

before(async () => {
  sink = await makeTestSink();
  const captured = captureLogger();
  lines = captured.lines;
  // The staging file opens 400 ms late: meanwhile the dataset would pile up in memory.
  const slowSink = { ...sink, stagingPath: () => delay(400).then(() => sink.stagingPath()) };
  service = createDicomService({ host: "127.0.0.1", port: 0, sink: slowSink, log: captured.log });
  ({ port } = await service.start());
  const file = makeDicomFile({ rows: 512, columns: 512, frames: 40 });
  const path = join(sink.dir, "large.dcm");
  await writeFile(path, file.bytes);
  // DCMTK sends sequences with explicit lengths; convert so the file's dataset is what goes out.
  const conversion = await runTool("dcmconv", ["+e", path, `${path}.wire.dcm`]);
  assert.equal(conversion.code, 0, conversion.stderr);
  large = { path: `${path}.wire.dcm`, sopInstanceUid: file.sopInstanceUid };
});

after(async () => {
  await service.stop();
  await removeTestSink(sink);
});

const events = (name: string) => lines.filter((line) => line.event === name);

test("a large instance streams through; the network pauses while the staging file lags", async () => {
  const result = await runTool("storescu", ["-aec", "DXGATE", "127.0.0.1", String(port), large.path]);
  assert.equal(result.code, 0, result.stderr);
  const storedPath = sink.storedPaths.get(large.sopInstanceUid);
  assert.ok(storedPath);
  assert.deepEqual(await datasetBytesOf(storedPath), await datasetBytesOf(large.path));
  assert.ok(events("backpressure").length > 0, "the socket was paused");
  sink.storedPaths.delete(large.sopInstanceUid);
});

test("an association cut mid-dataset stores nothing and leaves no staging file", async () => {
  const pausesBefore = events("backpressure").length;
  const storescu = execFile("storescu", ["-aec", "DXGATE", "127.0.0.1", String(port), large.path]);
  // Paused means: mid-dataset, some of it received, none of it acknowledged.
  await waitFor(() => events("backpressure").length > pausesBefore);
  storescu.kill("SIGKILL");
  await waitFor(() => events("association-closed").some((line) => line.interrupted === true));
  await delay(500); // past the 400 ms it takes the late staging file to appear
  await waitFor(async () => (await stagingLeftovers(sink)).length === 0);
  assert.equal(sink.storedPaths.has(large.sopInstanceUid), false);
  const echo = await runTool("echoscu", ["-aec", "DXGATE", "127.0.0.1", String(port)]);
  assert.equal(echo.code, 0, echo.stderr);
});
