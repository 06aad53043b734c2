/**
 * Register once at the box, pick from the worklist on the modality: the gateway in-process on port 0,
 * registrations over its HTTP API, DCMTK `findscu -W` as the modality's worklist query, `storescu`
 * sending the examination that must come back linked to its registration.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { silentLogger } from "../../common/logger.ts";
import { runTool } from "../../device-drivers/dicom/test-support.ts";
import { writeStudy } from "../../test/fixtures/make-dicom.ts";
import { createGateway } from "../app.ts";
import { loadGatewayConfig } from "../config.ts";

interface RegistrationJson {
  registrationId: string;
  accessionNumber: string;
  studyInstanceUid: string;
  scheduledProcedureStepId: string;
  requestedProcedureId: string;
  state: string;
}

const QUERY_US = [
  "(0008,0005) CS [ISO_IR 192]",
  "(0008,0050) SH []",
  "(0010,0010) PN []",
  "(0010,0020) LO []",
  "(0010,0030) DA []",
  "(0010,0040) CS []",
  "(0020,000d) UI []",
  "(0040,0100) SQ (Sequence with undefined length)",
  "(fffe,e000) na (Item with undefined length)",
  "(0008,0060) CS [US]",
  "(0040,0001) AE []",
  "(0040,0002) DA []",
  "(0040,0003) TM []",
  "(0040,0009) SH []",
  "(fffe,e00d) na (ItemDelimitationItem)",
  "(fffe,e0dd) na (SequenceDelimitationItem)",
].join("\n");

test("a patient registered over the API is found by findscu -W, and the study sent later is linked", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-worklist-"));
  const config = loadGatewayConfig({
    env: {},
    overrides: {
      siteId: "site-mwl",
      dataDir: join(dir, "data"),
      "dicom.host": "127.0.0.1",
      "dicom.port": 0,
      "http.host": "127.0.0.1",
      "http.port": 0,
      // Nothing listens there: the uploader stays offline, which this test does not need.
      "broker.url": "mqtt://127.0.0.1:1",
      "log.level": "silent",
    },
  });
  const gateway = createGateway(config, { log: silentLogger() });
  const { dicomPort, httpPort } = await gateway.start();
  t.after(async () => {
    await gateway.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const base = `http://127.0.0.1:${httpPort}`;
  const register = (body: Record<string, unknown>) =>
    fetch(`${base}/api/registrations`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  const created = await register({
    patientId: "P-0042",
    patientName: "张^三",
    patientSex: "M",
    patientBirthDate: "1970-03-15",
    modality: "US",
    procedureDescription: "腹部超声",
  });
  assert.equal(created.status, 201);
  const zhang = (await created.json()) as RegistrationJson;
  assert.match(zhang.accessionNumber, /^A\d{10}$/);
  assert.match(zhang.studyInstanceUid, /^2\.25\.\d+$/);
  assert.equal(zhang.state, "scheduled");

  const dx = await register({
    patientId: "P-0043",
    patientName: "Li^Si",
    patientSex: "F",
    patientBirthDate: "19800101",
    modality: "DX",
    accessionNumber: "ACC-DX-1",
  });
  assert.equal(dx.status, 201);
  const yesterday = new Date(Date.now() - 36 * 3_600_000).toISOString();
  const stale = await register({
    patientId: "P-0044",
    patientName: "Wang^Wu",
    patientSex: "M",
    patientBirthDate: "19600101",
    modality: "US",
    scheduledAt: yesterday,
  });
  assert.equal(stale.status, 201);
  assert.equal(((await stale.json()) as RegistrationJson).state, "expired");

  const bad = await register({
    patientId: "P-1",
    patientName: "A^B",
    patientBirthDate: "19600101",
    modality: "US",
  });
  assert.equal(bad.status, 400);
  const badBody = (await bad.json()) as { error: { code: string; details: { field: string } } };
  assert.equal(badBody.error.code, "REGISTRATION_INVALID");
  assert.equal(badBody.error.details.field, "patientSex");
  const clash = await register({
    patientId: "P-9",
    patientName: "C^D",
    patientSex: "O",
    patientBirthDate: "19600101",
    modality: "DX",
    accessionNumber: "ACC-DX-1",
  });
  assert.equal(clash.status, 409);

  const listed = (await (await fetch(`${base}/api/registrations`)).json()) as RegistrationJson[];
  assert.deepEqual(listed.map((r) => r.state).sort(), ["scheduled", "scheduled"]);

  // The modality's worklist query: US only; the expired US registration and the DX one stay out.
  await writeFile(join(dir, "q.dump"), QUERY_US);
  const made = await runTool("dump2dcm", [join(dir, "q.dump"), join(dir, "q.wl")]);
  assert.equal(made.code, 0, made.stderr);
  const out = join(dir, "responses");
  await mkdir(out);
  const find = await runTool("findscu", [
    "-W",
    "-aet",
    "US1",
    "-aec",
    "DXGATE",
    "-X",
    "-od",
    out,
    "127.0.0.1",
    String(dicomPort),
    join(dir, "q.wl"),
  ]);
  assert.equal(find.code, 0, find.stderr);
  const files = await readdir(out);
  assert.equal(files.length, 1);
  const dump = (await runTool("dcmdump", ["+U8", join(out, files[0]!)])).stdout;
  assert.match(dump, /\(0008,0005\) CS \[ISO_IR 192\]/);
  assert.match(dump, /\(0010,0010\) PN \[张\^三\]/);
  assert.match(dump, /\(0010,0030\) DA \[19700315\]/);
  assert.match(dump, new RegExp(`\\(0008,0050\\) SH \\[${zhang.accessionNumber}\\]`));
  assert.match(dump, new RegExp(`\\(0020,000d\\) UI \\[${zhang.studyInstanceUid.replaceAll(".", "\\.")}\\]`));
  assert.match(dump, new RegExp(`\\(0040,0009\\) SH \\[${zhang.scheduledProcedureStepId}\\]`));

  // The modality sends the examination with the worklist's accession number (its own study UID).
  const study = await writeStudy(join(dir, "study"), {
    instances: 2,
    patientName: "张^三",
    patientId: "P-0042",
    accessionNumber: zhang.accessionNumber,
    specificCharacterSet: "ISO_IR 192",
  });
  const store = await runTool("storescu", [
    "-aec",
    "DXGATE",
    "127.0.0.1",
    String(dicomPort),
    ...study.files.map((f) => f.path),
  ]);
  assert.equal(store.code, 0, store.stderr);
  const studies = (await (await fetch(`${base}/api/studies`)).json()) as Array<{
    studyInstanceUid: string;
    registrationId: string | null;
  }>;
  const linked = studies.find((s) => s.studyInstanceUid === study.studyInstanceUid);
  assert.equal(linked?.registrationId, zhang.registrationId);
  const after = (await (
    await fetch(`${base}/api/registrations/${zhang.registrationId}`)
  ).json()) as RegistrationJson;
  assert.equal(after.state, "in-progress");
  const missing = await fetch(`${base}/api/registrations/nope`);
  assert.equal(missing.status, 404);
});
