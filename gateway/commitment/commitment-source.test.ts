import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { ReceivedInstance } from "../../device-drivers/types.ts";
import { Spool } from "../spool/spool.ts";
import type { StudyRecord } from "../studies/study-index.ts";
import { SpoolCommitmentSource } from "./commitment-source.ts";

const STUDY = "1.2.840.77";
const US = "1.2.840.10008.5.1.4.1.1.6.1";

function instance(sop: string): ReceivedInstance {
  const empty = { patientId: "", patientName: "", patientSex: "", patientBirthDate: "", patientAge: "" };
  return {
    attributes: {
      studyInstanceUid: STUDY,
      seriesInstanceUid: `${STUDY}.1`,
      sopInstanceUid: sop,
      sopClassUid: US,
      transferSyntaxUid: "1.2.840.10008.1.2.1",
      modality: "US",
      ...empty,
      studyDate: "",
      studyTime: "",
      studyDescription: "",
      accessionNumber: "",
    },
    source: { kind: "file", path: "/x.dcm" },
    part10: { kind: "bytes", bytes: new Uint8Array([1, 2, 3]) },
  };
}

test("stored mode commits what the spool holds; delivered mode waits for the county's acknowledgement", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "dxgate-commit-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const spool = new Spool(dir);
  await spool.open();
  await spool.put(instance(`${STUDY}.1.1`), new Date().toISOString());
  await spool.put(instance(`${STUDY}.1.2`), new Date().toISOString());
  const record = { studyInstanceUid: STUDY, deliveredSopInstanceUids: [`${STUDY}.1.1`] } as StudyRecord;
  const studies = { list: () => [record], get: (uid: string) => (uid === STUDY ? record : undefined) };

  const stored = new SpoolCommitmentSource({ mode: "stored", spool, studies });
  assert.equal(await stored.status(`${STUDY}.1.2`, US), "committed");
  assert.equal(await stored.status(`${STUDY}.1.9`, US), "unknown");
  assert.equal(await stored.status(`${STUDY}.1.2`, "1.2.840.10008.5.1.4.1.1.7"), "conflict");

  const delivered = new SpoolCommitmentSource({ mode: "delivered", spool, studies });
  assert.equal(await delivered.status(`${STUDY}.1.1`, US), "committed");
  assert.equal(await delivered.status(`${STUDY}.1.2`, US), "pending");
  record.deliveredSopInstanceUids.push(`${STUDY}.1.2`);
  assert.equal(await delivered.status(`${STUDY}.1.2`, US), "committed");
});
