/**
 * Writing a report: validate what the diagnostician sent, store it on the study durably (which also
 * puts it in the outbox), then hand it to the outbox for delivery to the box.
 */
import { randomUUID } from "node:crypto";
import { rcError } from "../errors.ts";
import type { StudyStore } from "../store/study-store.ts";
import type { ReportRecord, StudyRecord } from "../store/types.ts";
import type { ReportOutbox } from "./outbox.ts";

export interface ReportInput {
  findings: string;
  impression: string;
  critical: boolean;
}

// The protocol schema's limits: a longer report would be refused by the box's decoder.
const LIMITS = { findings: 65536, impression: 16384 } as const;

export function validateReportInput(body: unknown): ReportInput {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw rcError("FIELD_INVALID", "the body must be a JSON object", { field: "(body)" });
  }
  const b = body as Record<string, unknown>;
  for (const field of ["findings", "impression"] as const) {
    if (typeof b[field] !== "string") {
      throw rcError("FIELD_INVALID", `${field} must be a string`, { field });
    }
    if ((b[field] as string).length > LIMITS[field]) {
      throw rcError("FIELD_INVALID", `${field} is longer than ${LIMITS[field]} characters`, { field });
    }
  }
  if (typeof b.critical !== "boolean") {
    throw rcError("FIELD_INVALID", "critical must be a boolean", { field: "critical" });
  }
  return { findings: b.findings as string, impression: b.impression as string, critical: b.critical };
}

export async function submitReport(
  deps: { studies: StudyStore; outbox: ReportOutbox },
  study: StudyRecord,
  username: string,
  input: ReportInput,
): Promise<ReportRecord> {
  if (study.state === "reported") {
    // Amendments (a second, superseding report) are a later feature; refuse rather than overwrite.
    throw rcError("STUDY_REPORTED", "the study is already reported", { reportId: study.report?.reportId });
  }
  if (study.claimedBy !== null && study.claimedBy !== username) {
    throw rcError("STUDY_CLAIMED", "another diagnostician has claimed this study", {
      claimedBy: study.claimedBy,
    });
  }
  const report: ReportRecord = {
    reportId: randomUUID(),
    findings: input.findings,
    impression: input.impression,
    critical: input.critical,
    reportedBy: username,
    reportedAt: new Date().toISOString(),
    deliveredAt: null,
  };
  const before = { state: study.state, claimedBy: study.claimedBy, claimedAt: study.claimedAt };
  study.report = report;
  study.state = "reported";
  if (study.claimedBy === null) {
    study.claimedBy = username;
    study.claimedAt = report.reportedAt;
  }
  try {
    await deps.studies.save(study);
  } catch (error) {
    // Not on disk means not reported: the worklist must not show a report the box will never get.
    Object.assign(study, before, { report: null });
    throw error;
  }
  deps.outbox.enqueue(study);
  return report;
}
