/**
 * Orthanc as a sending peer: what a county PACS or another DICOM node does when it forwards a study to
 * the box. Orthanc's own C-STORE SCU (not DCMTK's) sends to the gateway, and the study must reach
 * the reading centre with the instance Orthanc holds, byte for byte in its dataset.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { writeStudy } from "./fixtures/make-dicom.ts";
import { datasetOf } from "./support/dicom-bytes.ts";
import { deferrer, eventually, freePort } from "./support/processes.ts";
import {
  provisionBox,
  ReadingCentreClient,
  run,
  startGateway,
  startReadingCentre,
  type WorklistEntry,
} from "./support/stack.ts";

const ORTHANC = "/usr/sbin/Orthanc";

test("a study forwarded by Orthanc's C-STORE SCU arrives at the county unchanged", async (t) => {
  if (!existsSync(ORTHANC)) {
    t.skip(`*** SKIPPED: Orthanc is not installed (${ORTHANC}); apt-get install orthanc (.ci/run does) ***`);
    return;
  }
  const defer = deferrer(t);
  const work = await mkdtemp(join(tmpdir(), "dxgate-orthanc-"));
  defer(() => rm(work, { recursive: true, force: true }));
  const rc = await startReadingCentre(join(work, "rc"));
  defer(() => rc.stop());
  const box = await provisionBox(join(work, "rc"), rc.port("mqtt"));
  const gateway = await startGateway(join(work, "gw"), rc.port("mqtt"), 300, box);
  defer(() => gateway.stop());

  const httpPort = await freePort();
  await mkdir(join(work, "orthanc"));
  const config = {
    Name: "dxgate-test-peer",
    StorageDirectory: join(work, "orthanc", "storage"),
    IndexDirectory: join(work, "orthanc", "index"),
    HttpPort: httpPort,
    DicomPort: await freePort(),
    DicomAet: "ORTHANC",
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    Plugins: [],
    DicomModalities: { dxgate: ["DXGATE", "127.0.0.1", gateway.port("dicom")] },
  };
  const configPath = join(work, "orthanc", "orthanc.json");
  await writeFile(configPath, JSON.stringify(config));
  const orthanc: ChildProcess = spawn(ORTHANC, [configPath], {
    stdio: "ignore",
    env: { ...process.env, TCP_NODELAY: "1" },
  });
  defer(() => orthanc.kill());
  const api = `http://127.0.0.1:${httpPort}`;
  await eventually(async () => ((await fetch(`${api}/system`)).ok ? true : undefined), 20_000, "Orthanc up");

  const study = await writeStudy(join(work, "in"), {
    instances: 2,
    bitsAllocated: 16,
    rows: 64,
    columns: 64,
  });
  for (const file of study.files) {
    // Orthanc sends through DCMTK, which writes sequences with explicit lengths; give it files in
    // that form (dcmconv) so "unchanged" can be checked byte for byte against Orthanc's copy.
    await run("dcmconv", [file.path, file.path], { timeout: 10_000 });
    const res = await fetch(`${api}/instances`, { method: "POST", body: await readFile(file.path) });
    assert.equal(res.status, 200, "Orthanc took the instance");
  }
  const studies = (await (await fetch(`${api}/studies`)).json()) as string[];
  assert.equal(studies.length, 1);
  const sent = await fetch(`${api}/modalities/dxgate/store`, {
    method: "POST",
    body: JSON.stringify({ Resources: studies, Synchronous: true }),
  });
  assert.equal(sent.status, 200, `Orthanc's C-STORE to the gateway: ${await sent.clone().text()}`);

  const county = new ReadingCentreClient(rc.port("http"));
  await county.login();
  await eventually(
    async () =>
      (await county.json<WorklistEntry[]>("/api/worklist")).find(
        (s) => s.studyInstanceUid === study.studyInstanceUid,
      ),
    20_000,
    "the study at the county",
  );
  for (const file of study.files) {
    const instances = (await (
      await fetch(`${api}/tools/lookup`, { method: "POST", body: file.sopInstanceUid })
    ).json()) as Array<{ ID: string }>;
    const fromOrthanc = Buffer.from(
      await (await fetch(`${api}/instances/${instances[0]!.ID}/file`)).arrayBuffer(),
    );
    const res = await county.get(`/api/instances/${file.sopInstanceUid}`);
    assert.equal(res.status, 200);
    const atCounty = Buffer.from(await res.arrayBuffer());
    // Orthanc sends the dataset it stored (same transfer syntax, explicit VR LE): identical bytes.
    assert.ok(datasetOf(atCounty).equals(datasetOf(fromOrthanc)), "dataset identical to Orthanc's copy");
  }
});
