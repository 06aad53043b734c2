/** The reading centre's study record: what the worklist lists and the study page shows. */
import type { Priority } from "../../uploader/protocol/index.ts";

export const STUDY_STATES = ["unread", "claimed", "reported"] as const;
export type StudyState = (typeof STUDY_STATES)[number];

export interface PatientRecord {
  /** `<siteId>/<patientId>`: patient ids are only unique within one township's registry. */
  key: string;
  id: string;
  name: string;
  sex: string;
  age: string;
  birthDate: string;
}

export interface InstanceRecord {
  sopInstanceUid: string;
  sopClassUid: string;
  seriesInstanceUid: string;
  transferSyntaxUid: string;
  size: number;
  /** Lower-case hex SHA-256 of the stored Part 10 file; also its name in the content store. */
  sha256: string;
  storedAt: string;
}

export interface ReportRecord {
  reportId: string;
  findings: string;
  impression: string;
  critical: boolean;
  reportedBy: string;
  reportedAt: string;
  /** When the box acknowledged it; `null` while it is still being delivered (the outbox). */
  deliveredAt: string | null;
}

export interface StudyRecord {
  studyInstanceUid: string;
  siteId: string;
  countyId: string;
  modality: string;
  modalities: string[];
  priority: Priority;
  state: StudyState;
  /** When the reading centre first stored an instance of it. */
  receivedAt: string;
  /** When the box received its first instance. */
  boxReceivedAt: string;
  patient: PatientRecord;
  studyDate: string;
  studyTime: string;
  studyDescription: string;
  accessionNumber: string;
  instances: InstanceRecord[];
  /** False while the latest commit for it left instances missing. */
  complete: boolean;
  claimedBy: string | null;
  claimedAt: string | null;
  report: ReportRecord | null;
}

/** A study is identified by its site and its UID: two townships may (wrongly) reuse a UID. */
export interface StudyKey {
  siteId: string;
  studyInstanceUid: string;
}

export function studyKeyString(key: StudyKey): string {
  return `${key.siteId}/${key.studyInstanceUid}`;
}
