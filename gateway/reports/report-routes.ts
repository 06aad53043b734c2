/**
 * The printable report: `GET /api/reports/:reportId/print[?lang=zh|en]` → one self-contained HTML
 * page (gateway/reports/report-print.ts) with the county's report, and for an ECG study its 12-lead
 * sheet on a landscape page at true scale. The technician opens it in the box's browser and prints.
 */
import type { Router } from "../../common/http-router.ts";
import { renderEcgSvg } from "../../device-drivers/index.ts";
import { type EcgRouteDeps, ecgOf, languageOf } from "../ecg/ecg-routes.ts";
import { gatewayError } from "../errors.ts";
import { renderReportPrintPage } from "./report-print.ts";

export function addReportRoutes(router: Router, deps: EcgRouteDeps & { siteName: string }): void {
  router.add("GET", "/api/reports/:id/print", async (ctx) => {
    const language = languageOf(ctx);
    const study = deps.studies.list().find((s) => s.report?.reportId === ctx.params.id);
    if (!study?.report) throw gatewayError("REPORT_NOT_FOUND", "no report with this id at this box");
    let ecgSvg: string | undefined;
    if (study.modalities.includes("ECG")) {
      const { record } = await ecgOf(deps, study.studyInstanceUid);
      ecgSvg = renderEcgSvg(record, { language });
    }
    const html = renderReportPrintPage({
      report: study.report,
      study: {
        patient: study.patient,
        modalities: study.modalities,
        studyDate: study.studyDate,
        studyTime: study.studyTime,
        studyDescription: study.studyDescription,
        accessionNumber: study.accessionNumber,
        studyInstanceUid: study.studyInstanceUid,
        site: deps.siteName,
      },
      ...(ecgSvg ? { ecgSvg } : {}),
      language,
    });
    const body = Buffer.from(html, "utf8");
    ctx.res.writeHead(200, {
      "content-type": "text/html; charset=utf-8",
      "content-length": body.length,
      "cache-control": "no-store",
    });
    ctx.res.end(body);
    return undefined;
  });
}
