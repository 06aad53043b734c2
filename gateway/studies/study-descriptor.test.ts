import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeJsonMessage, encodeJsonMessage } from "../../uploader/protocol/index.ts";
import { studyDescriptor } from "./study-descriptor.ts";
import type { StudyRecord } from "./study-index.ts";
import { initialState } from "./study-states.ts";

function record(overrides: Partial<StudyRecord>): StudyRecord {
  return {
    studyInstanceUid: "1.2.3",
    ...initialState(),
    priority: "routine",
    modalities: ["US"],
    patient: { id: "P", name: "N", sex: "F", birthDate: "", age: "" },
    studyDate: "",
    studyTime: "",
    studyDescription: "",
    accessionNumber: "",
    instanceCount: 1,
    totalBytes: 1,
    firstInstanceAt: new Date().toISOString(),
    lastInstanceAt: new Date().toISOString(),
    deliveredSopInstanceUids: [],
    uploadAttempts: 0,
    lastError: null,
    report: null,
    ...overrides,
  };
}

// Regression: US-PAL-8-10x-echo (shared corpus) has StudyDate "1998.01.01"; the manifest schema once
// allowed 8 characters, so the study was accepted from the modality and then never left the box.
test("odd device values still make a valid manifest: old-style dates, over-long text, emoji", () => {
  const study = studyDescriptor(
    record({
      studyDate: "1998.01.01",
      studyTime: "10:11:12.123456 ",
      studyDescription: "超声".repeat(2000),
      accessionNumber: "A".repeat(100),
      patient: {
        id: "X".repeat(300),
        name: "😀".repeat(2000),
        sex: "MALE",
        birthDate: "1950.01.01",
        age: "56 years",
      },
    }),
  );
  assert.equal(study.studyDate, "1998.01.01");
  assert.equal(Array.from(study.patient.name).length, 1024);
  assert.ok(!study.patient.name.includes("\uFFFD"));
  const manifest = {
    v: 1 as const,
    type: "manifest" as const,
    sentAt: new Date().toISOString(),
    transferId: "t",
    chunkSize: 262144,
    study,
    instances: [
      {
        sopInstanceUid: "1.2.3.4",
        sopClassUid: "1.2.840.10008.5.1.4.1.1.6.1",
        transferSyntaxUid: "1.2.840.10008.1.2.1",
        seriesInstanceUid: "1.2.3.4.5",
        size: 10,
        sha256: "0".repeat(64),
      },
    ],
  };
  assert.doesNotThrow(() => decodeJsonMessage(encodeJsonMessage(manifest), "manifest"));
});
