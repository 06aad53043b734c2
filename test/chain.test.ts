/**
 * The whole chain, as processes: reading centre (embedded broker) and gateway started as real child
 * processes, a study sent with DCMTK storescu, found in the county's worklist, fetched back, reported,
 * and the report seen at the box. The crash cases are in crash.test.ts.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { writeStudy } from "./fixtures/make-dicom.ts";
import { datasetOf } from "./support/dicom-bytes.ts";
import { eventually, type RunningProcess } from "./support/processes.ts";
import {
  provisionBox,
  ReadingCentreClient,
  run,
  startGateway,
  startReadingCentre,
  storescu,
  type WorklistEntry,
} from "./support/stack.ts";

const PATIENT_NAME = "Chainfixture^Wenjing";

describe("the chain end to end", () => {
  let work: string;
  let rc: RunningProcess;
  let gateway: RunningProcess;
  let county: ReadingCentreClient;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "dxgate-chain-"));
    rc = await startReadingCentre(join(work, "rc"));
    const box = await provisionBox(join(work, "rc"), rc.port("mqtt"));
    gateway = await startGateway(join(work, "gw"), rc.port("mqtt"), 300, box);
    county = new ReadingCentreClient(rc.port("http"));
    await county.login();
  });

  after(async () => {
    await gateway?.stop();
    await rc?.stop();
    await rm(work, { recursive: true, force: true });
  });

  test("a study sent with storescu reaches the worklist byte-identical, and its report comes back", async () => {
    const study = await writeStudy(join(work, "in"), {
      instances: 3,
      patientName: PATIENT_NAME,
      patientId: "10023",
    });
    // storescu re-encodes what it sends (sequences with explicit lengths), so the reference for
    // "byte-identical" is the file as DCMTK itself writes it: normalise each fixture with dcmconv.
    for (const file of study.files) {
      await run("dcmconv", [file.path, file.path], { timeout: 10_000 });
      file.bytes = await readFile(file.path);
    }
    await storescu(
      gateway.port("dicom"),
      study.files.map((f) => f.path),
    );

    const entry = await eventually(
      async () => {
        const list = await county.json<WorklistEntry[]>("/api/worklist");
        return list.find((s) => s.studyInstanceUid === study.studyInstanceUid);
      },
      20_000,
      "the study in the worklist",
    );
    assert.equal(entry.siteId, "site-chain");
    assert.equal(entry.modality, "US");
    assert.ok(entry.priority && entry.state && entry.receivedAt);

    const detail = await county.json<{
      instances: Array<{ sopInstanceUid: string; sopClassUid: string; size: number }>;
    }>(`/api/studies/${study.studyInstanceUid}`);
    assert.deepEqual(
      detail.instances.map((i) => i.sopInstanceUid).sort(),
      study.files.map((f) => f.sopInstanceUid).sort(),
    );

    for (const file of study.files) {
      const res = await county.get(`/api/instances/${file.sopInstanceUid}`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /^application\/dicom/);
      const fetched = Buffer.from(await res.arrayBuffer());
      // The dataset arrives exactly as the modality sent it; the whole file is the gateway's spool file.
      assert.ok(datasetOf(fetched).equals(datasetOf(file.bytes)), "dataset bytes must be identical");
      const spooled = await readFile(
        join(work, "gw", "spool", "studies", study.studyInstanceUid, `${file.sopInstanceUid}.dcm`),
      );
      assert.ok(fetched.equals(spooled), "the county's file must be byte-identical to the box's");
      assert.equal(
        detail.instances.find((i) => i.sopInstanceUid === file.sopInstanceUid)?.size,
        spooled.length,
      );
    }

    const posted = await county.post(`/api/studies/${study.studyInstanceUid}/report`, {
      findings: "肝胆胰脾未见明显异常",
      impression: "Normal abdominal ultrasound",
      critical: false,
    });
    assert.equal(posted.status, 200);

    const gatewayApi = `http://127.0.0.1:${gateway.port("http")}`;
    const atBox = await eventually(
      async () => {
        const list = (await (await fetch(`${gatewayApi}/api/studies`)).json()) as Array<{
          studyInstanceUid: string;
          state: string;
          report: { impression: string; findings: string } | null;
        }>;
        const mine = list.find((s) => s.studyInstanceUid === study.studyInstanceUid);
        return mine?.report ? mine : undefined;
      },
      20_000,
      "the report at the gateway",
    );
    assert.equal(atBox.state, "reported");
    assert.equal(atBox.report?.impression, "Normal abdominal ultrasound");
    assert.equal(atBox.report?.findings, "肝胆胰脾未见明显异常");
  });

  test("no log line of either process carries the patient's name", () => {
    const everything = [...rc.output, ...gateway.output].join("\n");
    assert.ok(everything.length > 0);
    assert.ok(!everything.includes("Chainfixture"), "patient name leaked into the logs");
    assert.ok(!everything.includes("10023"), "patient id leaked into the logs");
  });
});
