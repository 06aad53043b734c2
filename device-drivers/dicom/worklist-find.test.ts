/**
 * The Modality Worklist FIND SCP: the identifier rules checked directly on dcmjs-dimse requests, and
 * the whole exchange against DCMTK `findscu -W` on port 0.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import dimse from "dcmjs-dimse";
import { silentLogger } from "../../common/logger.ts";
import { createDicomService, type DicomService } from "../index.ts";
import type { WorklistItem, WorklistQuery, WorklistSource } from "../types.ts";
import { makeTestSink, removeTestSink, runTool, type TestSink } from "./test-support.ts";
import { WORKLIST_STATUS } from "./worklist-constants.ts";
import { WorklistFindProvider } from "./worklist-find.ts";

const zhang: WorklistItem = {
  patientName: "张^三",
  patientId: "P-0042",
  patientBirthDate: "19700315",
  patientSex: "M",
  accessionNumber: "A2611250001",
  referringPhysicianName: "",
  requestedProcedureId: "RP2611250001",
  requestedProcedureDescription: "腹部超声",
  studyInstanceUid: "2.25.271828182845904523536028747135266249",
  modality: "US",
  scheduledStationAeTitle: "",
  scheduledProcedureStepStartDate: "20261125",
  scheduledProcedureStepStartTime: "093000",
  scheduledProcedureStepId: "SPS2611250001",
  scheduledProcedureStepDescription: "腹部超声",
};
const li: WorklistItem = {
  ...zhang,
  patientName: "Li^Si",
  patientId: "P-0043",
  accessionNumber: "A2611250002",
  modality: "DX",
  studyInstanceUid: "2.25.1",
};

const queries: WorklistQuery[] = [];
const source: WorklistSource = {
  async find(query) {
    queries.push(query);
    return [zhang, li];
  },
};

let sink: TestSink;
let service: DicomService;
let port: number;
let dir: string;

before(async () => {
  sink = await makeTestSink();
  dir = await mkdtemp(join(tmpdir(), "dxgate-mwl-"));
  service = createDicomService({ host: "127.0.0.1", port: 0, sink, worklist: source, log: silentLogger() });
  ({ port } = await service.start());
});

after(async () => {
  await service.stop();
  await removeTestSink(sink);
  await rm(dir, { recursive: true, force: true });
});

/** A worklist query file written by DCMTK's own dump2dcm, as a modality's query would be encoded. */
async function queryFile(name: string, modality: string, extraTopLevel = ""): Promise<string> {
  const dump = join(dir, `${name}.dump`);
  await writeFile(
    dump,
    [
      "(0008,0005) CS [ISO_IR 192]",
      "(0008,0050) SH []",
      "(0010,0010) PN []",
      "(0010,0020) LO []",
      "(0010,0030) DA []",
      "(0010,0040) CS []",
      "(0020,000d) UI []",
      "(0032,1060) LO []",
      "(0040,0100) SQ (Sequence with undefined length)",
      "(fffe,e000) na (Item with undefined length)",
      `(0008,0060) CS [${modality}]`,
      "(0040,0001) AE []",
      "(0040,0002) DA [20261101-20261130]",
      "(0040,0003) TM []",
      "(0040,0007) LO []",
      "(0040,0009) SH []",
      "(fffe,e00d) na (ItemDelimitationItem)",
      "(fffe,e0dd) na (SequenceDelimitationItem)",
      "(0040,1001) SH []",
      extraTopLevel,
    ].join("\n"),
  );
  const file = join(dir, `${name}.wl`);
  const made = await runTool("dump2dcm", [dump, file]);
  assert.equal(made.code, 0, made.stderr);
  return file;
}

/** Run `findscu -W`, keep each response as a file, and return their dcmdump texts. */
async function findscu(query: string, outName: string, callingAe = "US1"): Promise<string[]> {
  const out = join(dir, outName);
  await rm(out, { recursive: true, force: true });
  await mkdir(out);
  const result = await runTool("findscu", [
    "-W",
    "-aet",
    callingAe,
    "-aec",
    "DXGATE",
    "-X",
    "-od",
    out,
    "127.0.0.1",
    String(port),
    query,
  ]);
  assert.equal(result.code, 0, result.stderr);
  const files = (await readdir(out)).sort();
  const dumps: string[] = [];
  for (const file of files) dumps.push((await runTool("dcmdump", ["+U8", join(out, file)])).stdout);
  return dumps;
}

test("findscu -W finds the US item with its UTF-8 Chinese name and only the keys it asked for", async () => {
  const dumps = await findscu(await queryFile("us", "US"), "us");
  assert.equal(dumps.length, 1);
  const dump = dumps[0]!;
  assert.match(dump, /\(0008,0005\) CS \[ISO_IR 192\]/);
  assert.match(dump, /\(0010,0010\) PN \[张\^三\]/);
  assert.match(dump, /\(0010,0020\) LO \[P-0042\]/);
  assert.match(dump, /\(0008,0050\) SH \[A2611250001\]/);
  assert.match(dump, /\(0020,000d\) UI \[2\.25\.271828182845904523536028747135266249\]/);
  assert.match(dump, /\(0032,1060\) LO \[腹部超声\]/);
  assert.match(dump, /\(0040,0002\) DA \[20261125\]/);
  assert.match(dump, /\(0040,0009\) SH \[SPS2611250001\]/);
  assert.match(dump, /\(0040,1001\) SH \[RP2611250001\]/);
  // An item scheduled for no station is offered to the station that asks.
  assert.match(dump, /\(0040,0001\) AE \[US1\]/);
  // Not requested, so not returned (PS3.4 C.4.1.1.3.2).
  assert.doesNotMatch(dump, /\(0008,0090\)/);
  assert.equal(queries.at(-1)?.modality, "US");
  assert.deepEqual(queries.at(-1)?.scheduledProcedureStepStartDate, { from: "20261101", to: "20261130" });
});

test("a modality filter excludes the other items; no match is a plain Success", async () => {
  const dx = await findscu(await queryFile("dx", "DX"), "dx");
  assert.equal(dx.length, 1);
  assert.match(dx[0]!, /Li\^Si/);
  const mr = await findscu(await queryFile("mr", "MR"), "mr");
  assert.equal(mr.length, 0);
});

// ── the identifier rules, on dcmjs-dimse requests ───────────────────────────

function request(elements: Record<string, unknown>) {
  return dimse.requests.CFindRequest.createWorklistFindRequest(elements);
}

test("an unsupported requested key comes back empty with Pending-warning FF01", async () => {
  const provider = new WorklistFindProvider(source, silentLogger());
  const responses = await provider.find(
    request({ PatientID: "P-0042", AdmissionID: "", ScheduledProcedureStepSequence: [{ Modality: "" }] }),
    "US1",
  );
  assert.deepEqual(
    responses.map((r) => r.getStatus()),
    [WORKLIST_STATUS.pendingWarning, WORKLIST_STATUS.success],
  );
  const elements = responses[0]!.getDataset()!.getElements();
  assert.equal(elements.AdmissionID, "");
  assert.equal(elements.PatientID, "P-0042");
  assert.deepEqual(elements.ScheduledProcedureStepSequence, [{ Modality: "US" }]);
});

test("malformed queries are refused: two step items A900, a bad date C000, a foreign SOP class 0122", async () => {
  const provider = new WorklistFindProvider(source, silentLogger());
  const twoSteps = await provider.find(
    request({ ScheduledProcedureStepSequence: [{ Modality: "US" }, { Modality: "DX" }] }),
    "US1",
  );
  assert.deepEqual(
    twoSteps.map((r) => r.getStatus()),
    [WORKLIST_STATUS.identifierDoesNotMatchSopClass],
  );
  const badDate = await provider.find(
    request({ ScheduledProcedureStepSequence: [{ ScheduledProcedureStepStartDate: "25/11/2026" }] }),
    "US1",
  );
  assert.deepEqual(
    badDate.map((r) => r.getStatus()),
    [WORKLIST_STATUS.unableToProcess],
  );
  const studyRoot = dimse.requests.CFindRequest.createStudyFindRequest({ PatientID: "" });
  assert.deepEqual(
    (await provider.find(studyRoot, "US1")).map((r) => r.getStatus()),
    [WORKLIST_STATUS.sopClassNotSupported],
  );
  const noSource = new WorklistFindProvider(undefined, silentLogger());
  assert.deepEqual(
    (await noSource.find(request({ PatientID: "" }), "US1")).map((r) => r.getStatus()),
    [WORKLIST_STATUS.sopClassNotSupported],
  );
});

test("a C-CANCEL received while the source is searched ends the C-FIND with Cancel FE00", async () => {
  let release: () => void = () => undefined;
  const slow: WorklistSource = {
    find: () => new Promise((resolve) => (release = () => resolve([zhang]))),
  };
  const provider = new WorklistFindProvider(slow, silentLogger());
  const find = request({ PatientID: "" });
  const answer = provider.find(find, "US1");
  provider.cancel(find.getMessageId());
  release();
  assert.deepEqual(
    (await answer).map((r) => r.getStatus()),
    [WORKLIST_STATUS.cancel],
  );
});
