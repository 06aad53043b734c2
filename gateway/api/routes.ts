/**
 * The gateway's JSON API, as a route table. The technician page (a later issue) is built on it;
 * field staff and scripts use it too.
 */

import { Router } from "../../common/http-router.ts";
import type { Logger } from "../../common/logger.ts";
import { gatewayError } from "../errors.ts";
import type { StudyRecord } from "../studies/study-index.ts";
import type { StudyService } from "../studies/study-service.ts";

export interface ApiDeps {
  studies: StudyService;
  log: Logger;
  siteId: string;
  uploaderConnected: () => boolean;
}

function summary(record: StudyRecord) {
  return {
    studyInstanceUid: record.studyInstanceUid,
    state: record.state,
    priority: record.priority,
    modalities: record.modalities,
    patient: record.patient,
    studyDate: record.studyDate,
    studyDescription: record.studyDescription,
    accessionNumber: record.accessionNumber,
    instanceCount: record.instanceCount,
    totalBytes: record.totalBytes,
    receivedAt: record.firstInstanceAt,
    transitions: record.transitions,
    uploadAttempts: record.uploadAttempts,
    lastError: record.lastError,
    report: record.report,
    registrationId: record.registrationId ?? null,
    // An ECG the box could not link to a registration (gateway/ecg/ecg-context.ts): the technician
    // should register the patient; a stream module's ECG carries no patient of its own.
    unregistered: record.modalities.includes("ECG") && !record.registrationId,
  };
}

export function createApi(deps: ApiDeps): Router {
  const router = new Router(deps.log);
  router.add("GET", "/api/health", () => ({
    status: "ok",
    siteId: deps.siteId,
    uplink: deps.uploaderConnected() ? "connected" : "offline",
  }));
  router.add("GET", "/api/studies", () => deps.studies.list().map(summary));
  router.add("GET", "/api/studies/:uid", async ({ params }) => {
    const record = deps.studies.get(params.uid!);
    if (!record) throw gatewayError("STUDY_NOT_FOUND", "no such study at this box");
    const instances = await deps.studies.instances(record.studyInstanceUid);
    return {
      ...summary(record),
      history: record.history,
      instances: instances.map((i) => ({
        sopInstanceUid: i.attributes.sopInstanceUid,
        sopClassUid: i.attributes.sopClassUid,
        seriesInstanceUid: i.attributes.seriesInstanceUid,
        transferSyntaxUid: i.attributes.transferSyntaxUid,
        modality: i.attributes.modality,
        size: i.size,
        receivedAt: i.receivedAt,
      })),
    };
  });
  return router;
}
