/**
 * The import jobs in the gateway API: `GET /api/imports` (newest first) and `GET /api/imports/:id`.
 * File names relative to the medium and counts only; the patient data inside stays in the studies.
 */
import type { Router } from "../../common/http-router.ts";
import type { ImportJob } from "../../device-drivers/index.ts";
import { gatewayError } from "../errors.ts";

export interface ImportJobsView {
  jobs(): ImportJob[];
  job(id: string): ImportJob | undefined;
}

export function addImportRoutes(router: Router, imports: ImportJobsView): void {
  router.add("GET", "/api/imports", () => imports.jobs());
  router.add("GET", "/api/imports/:id", ({ params }) => {
    const job = imports.job(params.id ?? "");
    if (!job) throw gatewayError("IMPORT_NOT_FOUND", "no such import job (jobs are kept in memory)");
    return job;
  });
}
