/**
 * The worklist diagnosticians pull from: studies ordered by priority (stat, urgent, routine) and
 * then by arrival, and the claim that keeps two people from reading the same study.
 */
import { PRIORITY_RANK } from "../../uploader/protocol/index.ts";
import { rcError } from "../errors.ts";
import type { PreviewRecord, PreviewStore } from "../store/preview-store.ts";
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
  /** Previews the box sent for this study (they may have arrived before its data). */
  previewCount: number;
  /** The first preview's id in previewId order, for a thumbnail: GET /api/studies/{uid}/previews/{id}. */
  firstPreviewId: string | null;
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

/** Answers "which previews does this study have"; a PreviewStore in the service. */
export interface PreviewLookup {
  list(key: { siteId: string; studyInstanceUid: string }): PreviewRecord[];
}

const NO_PREVIEWS: PreviewLookup = { list: () => [] };

export function summarize(study: StudyRecord, previews: PreviewLookup = NO_PREVIEWS): StudySummary {
  const r = study.report;
  const shown = previews.list(study);
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
    previewCount: shown.length,
    firstPreviewId: shown[0]?.previewId ?? null,
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

export function worklist(
  studies: StudyStore,
  filter: { state?: string | null } = {},
  previews: PreviewLookup = NO_PREVIEWS,
): StudySummary[] {
  const state = filter.state ?? null;
  if (state !== null && !(STUDY_STATES as readonly string[]).includes(state)) {
    throw rcError("FIELD_INVALID", `state must be one of ${STUDY_STATES.join(", ")}`, { field: "state" });
  }
  return studies
    .all()
    .filter((s) => onWorklist(s) && (state === null || s.state === state))
    .sort(compareWorklist)
    .map((study) => summarize(study, previews));
}

/**
 * A study goes on the worklist once every instance of the box's latest manifest is stored: nobody
 * starts reading half a study. One a diagnostician already holds stays (a later resend that is still
 * arriving must not pull it from under them); until then it is listed under "arriving".
 */
export function onWorklist(study: StudyRecord): boolean {
  return study.complete || study.state !== "unread";
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

/**
 * The site whose previews `GET /api/studies/{uid}/previews` shows. A stored study wins (as for every
 * other study route, `siteId` picks one of several); only when no site has the study yet do previews
 * alone make it known (an "arriving" study). A preview another site sent for the same UID is never
 * shown with this site's study.
 */
export function resolvePreviewSite(
  studies: StudyStore,
  previews: Pick<PreviewStore, "siteIdsFor">,
  studyInstanceUid: string,
  siteId?: string | null,
): string {
  const stored = studies.findByUid(studyInstanceUid).filter((s) => !siteId || s.siteId === siteId);
  if (stored.length > 0) return resolveStudy(studies, studyInstanceUid, siteId).siteId;
  const arriving = previews.siteIdsFor(studyInstanceUid).filter((s) => !siteId || s === siteId);
  if (arriving.length === 0) throw rcError("STUDY_NOT_FOUND", "no such study", { studyInstanceUid });
  if (arriving.length > 1) {
    throw rcError("STUDY_AMBIGUOUS", "several sites sent a study with this UID; add ?siteId=", {
      studyInstanceUid,
      siteIds: arriving,
    });
  }
  return arriving[0]!;
}

export interface ArrivingStudy {
  siteId: string;
  studyInstanceUid: string;
  previewCount: number;
  firstPreviewId: string | null;
  /** When its earliest preview arrived (or, without previews, when its first data was stored). */
  firstReceivedAt: string;
  /** Instances already stored (an attempt that ended INCOMPLETE); 0 before any data. */
  instancesStored: number;
}

/**
 * Studies on their way, newest first: those the county has previews of but not yet every instance,
 * and those part-stored by an incomplete attempt (not on the worklist yet).
 */
export function arriving(studies: StudyStore, previews: PreviewStore): ArrivingStudy[] {
  const withPreviews = previews
    .keys()
    .filter((key) => {
      const study = studies.get(key);
      return study === undefined || !onWorklist(study);
    })
    .map((key): ArrivingStudy => {
      const list = previews.list(key);
      return {
        siteId: key.siteId,
        studyInstanceUid: key.studyInstanceUid,
        previewCount: list.length,
        firstPreviewId: list[0]!.previewId,
        firstReceivedAt: list.map((p) => p.receivedAt).sort()[0]!,
        instancesStored: studies.get(key)?.instances.length ?? 0,
      };
    });
  const listed = new Set(withPreviews.map((a) => `${a.siteId}/${a.studyInstanceUid}`));
  // Studies part-stored by an attempt that ended INCOMPLETE, without previews: arriving too.
  const partial = studies
    .all()
    .filter((s) => !onWorklist(s) && !listed.has(`${s.siteId}/${s.studyInstanceUid}`))
    .map(
      (s): ArrivingStudy => ({
        siteId: s.siteId,
        studyInstanceUid: s.studyInstanceUid,
        previewCount: 0,
        firstPreviewId: null,
        firstReceivedAt: s.receivedAt,
        instancesStored: s.instances.length,
      }),
    );
  return [...withPreviews, ...partial].sort(
    (a, b) =>
      b.firstReceivedAt.localeCompare(a.firstReceivedAt) ||
      a.siteId.localeCompare(b.siteId) ||
      a.studyInstanceUid.localeCompare(b.studyInstanceUid),
  );
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
