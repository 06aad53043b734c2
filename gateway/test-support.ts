/**
 * Builders shared by the gateway's tests: a received instance with sensible attributes, and a study
 * service over a real spool and index in a directory the test owns. Test code only.
 */
import { join } from "node:path";
import { silentLogger } from "../common/logger.ts";
import type { InstanceAttributes, ReceivedInstance } from "../device-drivers/index.ts";
import { Spool } from "./spool/spool.ts";
import { StudyIndex } from "./studies/study-index.ts";
import { StudyService, type StudyServiceOptions } from "./studies/study-service.ts";

/** A received instance of study 1.2.840.1 (override any attribute), from a USB stick by default. */
export function receivedInstance(
  attributes: Partial<InstanceAttributes> & { sopInstanceUid: string },
  part10: ReceivedInstance["part10"],
  source: ReceivedInstance["source"] = { kind: "file", path: "/media/usb/1.dcm" },
): ReceivedInstance {
  return {
    attributes: {
      studyInstanceUid: "1.2.840.1",
      seriesInstanceUid: "1.2.840.1.1",
      sopClassUid: "1.2.840.10008.5.1.4.1.1.7",
      transferSyntaxUid: "1.2.840.10008.1.2.1",
      modality: "OT",
      patientId: "",
      patientName: "",
      patientSex: "",
      patientBirthDate: "",
      patientAge: "",
      studyDate: "",
      studyTime: "",
      studyDescription: "",
      accessionNumber: "",
      ...attributes,
    },
    source,
    part10,
  };
}

/** A study service over a real spool (`<dataDir>/spool`) and index; the caller stops it. */
export async function openStudyService(
  dataDir: string,
  options: Partial<Omit<StudyServiceOptions, "spool" | "index">> = {},
): Promise<{ spool: Spool; index: StudyIndex; studies: StudyService }> {
  const spool = new Spool(join(dataDir, "spool"));
  await spool.open();
  const index = new StudyIndex(dataDir);
  await index.open();
  const studies = new StudyService({
    spool,
    index,
    log: silentLogger(),
    quietPeriodMs: 60_000,
    defaultPriority: "routine",
    ecgPriority: "urgent",
    ...options,
  });
  return { spool, index, studies };
}
