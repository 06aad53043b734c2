/**
 * The study as the transfer protocol describes it, built from the box's record. Descriptive text is
 * clipped to the protocol's limits here, so an odd value from a device (an old-style date, an
 * over-long description) can never make a manifest invalid and leave the study stuck at the box.
 */
import { clipStudyText, STUDY_TEXT_LIMITS, type StudyDescriptor } from "../../uploader/protocol/index.ts";
import type { StudyRecord } from "./study-index.ts";

const { short, modality, patientId, patientName, description } = STUDY_TEXT_LIMITS;

export function studyDescriptor(record: StudyRecord): StudyDescriptor {
  return {
    studyInstanceUid: record.studyInstanceUid,
    priority: record.priority,
    modalities: record.modalities.slice(0, 16).map((m) => clipStudyText(m, modality)),
    patient: {
      id: clipStudyText(record.patient.id, patientId),
      name: clipStudyText(record.patient.name, patientName),
      sex: clipStudyText(record.patient.sex, short),
      birthDate: clipStudyText(record.patient.birthDate, short),
      age: clipStudyText(record.patient.age, short),
    },
    studyDate: clipStudyText(record.studyDate, short),
    studyTime: clipStudyText(record.studyTime, short),
    studyDescription: clipStudyText(record.studyDescription, description),
    accessionNumber: clipStudyText(record.accessionNumber, short),
    receivedAt: record.firstInstanceAt,
  };
}
