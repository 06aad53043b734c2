/**
 * C-STORE failures: whatever goes wrong, the SCU gets a failure status (never Success), nothing is
 * left in staging, and the service keeps answering. Peers: DCMTK storescu and the dcmjs-dimse Client
 * (which can send a command that disagrees with its dataset).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, afterEach, before, test } from "node:test";
import dimse from "dcmjs-dimse";
import { silentLogger } from "../../common/logger.ts";
import { newUid, writeStudy } from "../../test/fixtures/make-dicom.ts";
import type { StoreResult } from "../types.ts";
import { createDicomService, type DicomService } from "./dicom-service.ts";
import { makeTestSink, removeTestSink, runTool, stagingLeftovers, type TestSink } from "./test-support.ts";

/** What the sink does next; each test sets it. */
let decide: () => StoreResult | Promise<StoreResult> = () => ({ status: "stored" });
let sink: TestSink;
let service: DicomService;
let port: number;

before(async () => {
  sink = await makeTestSink(() => decide());
  service = createDicomService({ host: "127.0.0.1", port: 0, sink, log: silentLogger() });
  ({ port } = await service.start());
});

afterEach(async () => {
  decide = () => ({ status: "stored" });
  assert.deepEqual(await stagingLeftovers(sink), [], "no staging file left behind");
});

after(async () => {
  await service.stop();
  await removeTestSink(sink);
});

/** storescu exits with the failing status's high byte (DCMTK 3.6.7) and logs the status by name. */
async function storeWithStorescu(): Promise<{ code: number; stderr: string; sopInstanceUid: string }> {
  const study = await writeStudy(join(sink.dir, newUid()), { instances: 1 });
  const file = study.files[0];
  assert.ok(file);
  const result = await runTool("storescu", ["-v", "-aec", "DXGATE", "127.0.0.1", String(port), file.path]);
  return { code: result.code, stderr: result.stderr, sopInstanceUid: file.sopInstanceUid };
}

test("a retryable refusal is answered A700 Out of Resources and nothing is stored", async () => {
  decide = () => ({
    status: "refused",
    code: "disk-full",
    reason: "spool above high-water mark",
    retryable: true,
  });
  const result = await storeWithStorescu();
  assert.equal(result.code, 0xa7);
  assert.match(result.stderr, /Received Store Response \(Refused: OutOfResources\)/);
  assert.equal(sink.storedPaths.has(result.sopInstanceUid), false);
});

test("a sink that throws is answered A700, and the service still stores afterwards", async () => {
  decide = () => {
    throw new Error("EIO: the SD card went away");
  };
  const failed = await storeWithStorescu();
  assert.equal(failed.code, 0xa7);
  assert.match(failed.stderr, /Refused: OutOfResources/);

  decide = () => ({ status: "stored" });
  const stored = await storeWithStorescu();
  assert.equal(stored.code, 0, stored.stderr);
  assert.ok(sink.storedPaths.has(stored.sopInstanceUid));
});

test("a final refusal is a Cxxx error, or A900 when the sink names the SOP class", async () => {
  decide = () => ({ status: "refused", code: "unsupported-modality", reason: "no route", retryable: false });
  const cannotUnderstand = await storeWithStorescu();
  assert.equal(cannotUnderstand.code, 0xc0);
  assert.match(cannotUnderstand.stderr, /Error: CannotUnderstand/);

  decide = () => ({ status: "refused", code: "sop-class-not-allowed", reason: "policy", retryable: false });
  const mismatch = await storeWithStorescu();
  assert.equal(mismatch.code, 0xa9);
  assert.match(mismatch.stderr, /Error: DataSetDoesNotMatchSOPClass/);
});

test("a duplicate counts as success", async () => {
  decide = () => ({ status: "duplicate" });
  const result = await storeWithStorescu();
  assert.equal(result.code, 0, result.stderr);
});

/** Send one C-STORE with the dcmjs-dimse Client; resolves with the response status. */
function storeWithClient(
  elements: Record<string, unknown>,
  affectedSopInstanceUid?: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const dataset = new dimse.Dataset(elements, "1.2.840.10008.1.2.1");
    const request = new dimse.requests.CStoreRequest(dataset);
    if (affectedSopInstanceUid) request.setAffectedSopInstanceUid(affectedSopInstanceUid);
    let status: number | undefined;
    request.on("response", (response: InstanceType<typeof dimse.responses.CStoreResponse>) => {
      status = response.getStatus();
    });
    const client = new dimse.Client();
    client.addRequest(request);
    client.on("networkError", (error: Error) => reject(error));
    client.on("closed", () =>
      status === undefined ? reject(new Error("no C-STORE response")) : resolve(status),
    );
    client.send("127.0.0.1", port, "DIMSE_CLIENT", "DXGATE");
  });
}

function minimalInstance(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    SOPClassUID: "1.2.840.10008.5.1.4.1.1.7",
    SOPInstanceUID: newUid(),
    StudyInstanceUID: newUid(),
    SeriesInstanceUID: newUid(),
    Modality: "OT",
    PatientName: "Mismatch^Case",
    ...overrides,
  };
}

test("a dataset whose SOP Instance UID differs from the command's is refused (C003)", async () => {
  const instance = minimalInstance();
  const status = await storeWithClient(instance, newUid());
  assert.equal(status, 0xc003);
  assert.equal(sink.storedPaths.has(String(instance.SOPInstanceUID)), false);
});

test("a dataset without a Study Instance UID is refused (C002)", async () => {
  const { StudyInstanceUID: _left, ...instance } = minimalInstance();
  const status = await storeWithClient(instance);
  assert.equal(status, 0xc002);
});

test("the dcmjs-dimse Client's well-formed instance is stored (the control case)", async () => {
  const instance = minimalInstance();
  const status = await storeWithClient(instance);
  assert.equal(status, 0x0000);
  assert.equal(sink.received.at(-1)?.attributes.patientName, "Mismatch^Case");
});
