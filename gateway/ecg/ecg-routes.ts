/**
 * An ECG study's 12-lead sheet, drawn from the DICOM ECG in the spool (what the county receives):
 *
 *   GET /api/studies/:uid/ecg.svg[?lang=zh|en&instance=SOPUID]   the sheet as SVG (true mm)
 *   GET /api/studies/:uid/ecg.png[?lang=…&dpi=150|300&instance=…] the preview stored with the ECG,
 *                                                                  or a fresh rendering when asked
 *                                                                  for another language or resolution
 *
 * `instance` picks one ECG when a study has several (default: the first received).
 */
import { readFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import type { RequestContext, Router } from "../../common/http-router.ts";
import type { Logger } from "../../common/logger.ts";
import { type EcgRecord, readDicomEcg, renderEcgPng, renderEcgSvg } from "../../device-drivers/index.ts";
import { gatewayError } from "../errors.ts";
import type { Spool, SpooledInstance } from "../spool/spool.ts";
import type { StudyService } from "../studies/study-service.ts";

export interface EcgRouteDeps {
  studies: StudyService;
  spool: Spool;
  log: Logger;
}

export function addEcgRoutes(router: Router, deps: EcgRouteDeps): void {
  router.add("GET", "/api/studies/:uid/ecg.svg", async (ctx) => {
    const language = languageOf(ctx);
    const { record } = await ecgOf(deps, ctx.params.uid ?? "", ctx.query.get("instance"));
    const svg = renderEcgSvg(record, { language });
    send(ctx.res, "image/svg+xml; charset=utf-8", Buffer.from(svg, "utf8"));
    return undefined;
  });
  router.add("GET", "/api/studies/:uid/ecg.png", async (ctx) => {
    const language = languageOf(ctx);
    const dpiText = ctx.query.get("dpi");
    if (dpiText !== null && dpiText !== "150" && dpiText !== "300") {
      throw gatewayError("QUERY_INVALID", "dpi must be 150 (preview) or 300 (print)", { field: "dpi" });
    }
    const dpi = dpiText === null ? 150 : Number(dpiText);
    const { instance, record } = await ecgOf(deps, ctx.params.uid ?? "", ctx.query.get("instance"));
    if (instance.preview && dpi === 150 && ctx.query.get("lang") === null) {
      const stored = await readFile(
        deps.spool.previewPath(instance.attributes.studyInstanceUid, instance.attributes.sopInstanceUid),
      ).catch(() => undefined);
      if (stored) {
        send(ctx.res, "image/png", stored);
        return undefined;
      }
    }
    send(ctx.res, "image/png", await renderEcgPng(record, { language, dpi }));
    return undefined;
  });
}

/** The study's ECG instance (by SOP Instance UID, or the first received) and its record. */
export async function ecgOf(
  deps: EcgRouteDeps,
  studyInstanceUid: string,
  sopInstanceUid?: string | null,
): Promise<{ instance: SpooledInstance; record: EcgRecord }> {
  if (!deps.studies.get(studyInstanceUid)) throw gatewayError("STUDY_NOT_FOUND", "no such study at this box");
  const ecgs = (await deps.studies.instances(studyInstanceUid))
    .filter((i) => i.attributes.modality === "ECG")
    .sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
  const instance = sopInstanceUid
    ? ecgs.find((i) => i.attributes.sopInstanceUid === sopInstanceUid)
    : ecgs[0];
  if (!instance) throw gatewayError("ECG_NOT_FOUND", "this study holds no such ECG");
  const path = deps.spool.instancePath(studyInstanceUid, instance.attributes.sopInstanceUid);
  try {
    return { instance, record: readDicomEcg(await readFile(path)) };
  } catch (error) {
    deps.log.error(
      { event: "ecg-unreadable", studyInstanceUid, code: (error as { code?: string }).code, err: error },
      "stored ECG cannot be read back",
    );
    throw gatewayError("ECG_UNREADABLE", "the stored ECG cannot be read back (see the gateway log)");
  }
}

export function languageOf(ctx: RequestContext): "zh" | "en" {
  const lang = ctx.query.get("lang");
  if (lang === null || lang === "zh") return "zh";
  if (lang === "en") return "en";
  throw gatewayError("QUERY_INVALID", 'lang must be "zh" or "en"', { field: "lang" });
}

function send(res: ServerResponse, contentType: string, body: Uint8Array): void {
  res.writeHead(200, {
    "content-type": contentType,
    "content-length": body.length,
    "cache-control": "no-store",
  });
  res.end(body);
}
