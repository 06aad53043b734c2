/**
 * The worklist diagnosticians pull from: studies ordered by priority (stat, urgent, routine) and
 * then by arrival, and the claim that keeps two people from reading the same study.
 */
import { PRIORITY_RANK } from "../../uploader/protocol/index.ts";
import { rcError } from "../errors.ts";
import type { StudyStore } from "../store/study-store.ts";
import { STUDY_STATES, type StudyRecord, type StudyState } from "../store/types.ts";

export interface StudySummary {
  studyInstanceUid: string;
  siteId: string;
  countyId: string;
  modality: string;
  modalities: string[];
  priority: StudyRecord["priority"];
  state: StudyState;
  receivedAt: string;
  boxReceivedAt: string;
  patient: StudyRecord["patient"];
  studyDate: string;
  studyDescription: string;
  accessionNumber: string;
  instanceCount: number;
  complete: boolean;
  claimedBy: string | null;
  claimedAt: string | null;
  report: {
    reportId: string;
    critical: boolean;
    reportedBy: string;
    reportedAt: string;
    deliveredAt: string | null;
  } | null;
}

export function summarize(study: StudyRecord): StudySummary {
  const r = study.report;
  return {
    studyInstanceUid: study.studyInstanceUid,
    siteId: study.siteId,
    countyId: study.countyId,
    modality: study.modality,
    modalities: study.modalities,
    priority: study.priority,
    state: study.state,
    receivedAt: study.receivedAt,
    boxReceivedAt: study.boxReceivedAt,
    patient: study.patient,
    studyDate: study.studyDate,
    studyDescription: study.studyDescription,
    accessionNumber: study.accessionNumber,
    instanceCount: study.instances.length,
    complete: study.complete,
    claimedBy: study.claimedBy,
    claimedAt: study.claimedAt,
    report: r
      ? {
          reportId: r.reportId,
          critical: r.critical,
          reportedBy: r.reportedBy,
          reportedAt: r.reportedAt,
          deliveredAt: r.deliveredAt,
        }
      : null,
  };
}

export function compareWorklist(a: StudyRecord, b: StudyRecord): number {
  return (
    PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] ||
    a.receivedAt.localeCompare(b.receivedAt) ||
    a.siteId.localeCompare(b.siteId) ||
    a.studyInstanceUid.localeCompare(b.studyInstanceUid)
  );
}

export function worklist(studies: StudyStore, filter: { state?: string | null } = {}): StudySummary[] {
  const state = filter.state ?? null;
  if (state !== null && !(STUDY_STATES as readonly string[]).includes(state)) {
    throw rcError("FIELD_INVALID", `state must be one of ${STUDY_STATES.join(", ")}`, { field: "state" });
  }
  return studies
    .all()
    .filter((s) => state === null || s.state === state)
    .sort(compareWorklist)
    .map(summarize);
}

/** The study with this UID; `siteId` picks one when two sites sent the same UID. */
export function resolveStudy(
  studies: StudyStore,
  studyInstanceUid: string,
  siteId?: string | null,
): StudyRecord {
  const found = studies.findByUid(studyInstanceUid).filter((s) => !siteId || s.siteId === siteId);
  if (found.length === 0) throw rcError("STUDY_NOT_FOUND", "no such study", { studyInstanceUid });
  if (found.length > 1) {
    throw rcError("STUDY_AMBIGUOUS", "several sites sent a study with this UID; add ?siteId=", {
      studyInstanceUid,
      siteIds: found.map((s) => s.siteId),
    });
  }
  return found[0]!;
}

export async function claimStudy(
  studies: StudyStore,
  study: StudyRecord,
  username: string,
): Promise<StudyRecord> {
  if (study.state === "reported") {
    throw rcError("STUDY_REPORTED", "the study is already reported", {
      reportedBy: study.report?.reportedBy,
    });
  }
  if (study.claimedBy !== null && study.claimedBy !== username) {
    throw rcError("STUDY_CLAIMED", "another diagnostician has claimed this study", {
      claimedBy: study.claimedBy,
    });
  }
  if (study.claimedBy === username) return study;
  study.claimedBy = username;
  study.claimedAt = new Date().toISOString();
  study.state = "claimed";
  await studies.save(study);
  return study;
}

/** Give a claimed study back to the worklist (only its claimant may). */
export async function releaseStudy(
  studies: StudyStore,
  study: StudyRecord,
  username: string,
): Promise<StudyRecord> {
  if (study.state !== "claimed") return study;
  if (study.claimedBy !== username) {
    throw rcError("STUDY_CLAIMED", "another diagnostician has claimed this study", {
      claimedBy: study.claimedBy,
    });
  }
  study.claimedBy = null;
  study.claimedAt = null;
  study.state = "unread";
  await studies.save(study);
  return study;
}
