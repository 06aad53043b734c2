/**
 * The reading centre's HTTP API (a published contract: scripts, the web page and integrators use
 * it). Every route but login and health needs `Authorization: Bearer <token>`; errors leave in the
 * router's JSON shape with the codes of reading-centre/errors.ts.
 */
import { pipeline } from "node:stream/promises";
import { type Handler, type RequestContext, Router, readJsonBody } from "../../common/http-router.ts";
import type { Logger } from "../../common/logger.ts";
import type { Session, TokenStore } from "../auth/tokens.ts";
import type { UserStore } from "../auth/users.ts";
import { rcError } from "../errors.ts";
import type { BoxRegistry } from "../receiver/box-status.ts";
import type { ReportOutbox } from "../reports/outbox.ts";
import { submitReport, validateReportInput } from "../reports/report-service.ts";
import type { InstanceStore } from "../store/instance-store.ts";
import type { PreviewRecord, PreviewStore } from "../store/preview-store.ts";
import type { StudyStore } from "../store/study-store.ts";
import {
  arriving,
  claimStudy,
  releaseStudy,
  resolvePreviewSite,
  resolveStudy,
  summarize,
  worklist,
} from "../worklist/worklist.ts";

export interface ApiDeps {
  users: UserStore;
  tokens: TokenStore;
  studies: StudyStore;
  instances: InstanceStore;
  previews: PreviewStore;
  outbox: ReportOutbox;
  boxes: BoxRegistry;
  log: Logger;
}

export function createApiRouter(deps: ApiDeps): Router {
  const { studies, previews, log } = deps;
  const router = new Router(log);
  const authed =
    (handler: (ctx: RequestContext, session: Session) => unknown): Handler =>
    (ctx) =>
      handler(ctx, deps.tokens.authenticate(ctx.req));
  const studyOf = (ctx: RequestContext) => resolveStudy(studies, ctx.params.uid!, ctx.query.get("siteId"));

  router.add("GET", "/api/health", () => ({ status: "ok" }));

  router.add("POST", "/api/login", async ({ req }) => {
    const body = (await readJsonBody(req, 16 * 1024)) as Record<string, unknown> | null;
    const username = typeof body?.username === "string" ? body.username : undefined;
    const password = typeof body?.password === "string" ? body.password : undefined;
    if (username === undefined || password === undefined) {
      throw rcError("FIELD_INVALID", "username and password must be strings", {
        field: username === undefined ? "username" : "password",
      });
    }
    const user = await deps.users.verify(username, password);
    if (!user) {
      log.warn({ username }, "login failed");
      throw rcError("AUTH_INVALID", "wrong username or password");
    }
    log.info({ username: user }, "login");
    return { ...deps.tokens.issue(user), username: user };
  });

  router.add(
    "GET",
    "/api/worklist",
    authed(({ query }) => worklist(studies, { state: query.get("state") }, previews)),
  );

  router.add(
    "GET",
    "/api/studies/:uid",
    authed((ctx) => {
      const study = studyOf(ctx);
      return {
        ...summarize(study, previews),
        studyTime: study.studyTime,
        instances: study.instances,
        previews: previews.list(study).map(previewItem),
        report: study.report,
      };
    }),
  );

  router.add(
    "POST",
    "/api/studies/:uid/claim",
    authed(async (ctx, session) =>
      summarize(await claimStudy(studies, studyOf(ctx), session.username), previews),
    ),
  );

  router.add(
    "POST",
    "/api/studies/:uid/release",
    authed(async (ctx, session) =>
      summarize(await releaseStudy(studies, studyOf(ctx), session.username), previews),
    ),
  );

  router.add(
    "POST",
    "/api/studies/:uid/report",
    authed(async (ctx, session) => {
      const input = validateReportInput(await readJsonBody(ctx.req, 256 * 1024));
      const study = studyOf(ctx);
      const report = await submitReport(deps, study, session.username, input);
      log.info(
        {
          siteId: study.siteId,
          studyInstanceUid: study.studyInstanceUid,
          reportId: report.reportId,
          critical: report.critical,
        },
        "report stored",
      );
      return { studyInstanceUid: study.studyInstanceUid, siteId: study.siteId, state: study.state, report };
    }),
  );

  router.add(
    "GET",
    "/api/instances/:sop",
    authed(async (ctx) => {
      const siteId = ctx.query.get("siteId");
      const found = studies
        .findInstances(ctx.params.sop!)
        .filter((f) => !siteId || f.study.siteId === siteId);
      const versions = new Set(found.map((f) => f.instance.sha256));
      if (found.length === 0)
        throw rcError("INSTANCE_NOT_FOUND", "no such instance", { sopInstanceUid: ctx.params.sop });
      // Identical bytes from two sites are one answer; different ones need the caller to choose.
      if (versions.size > 1) {
        throw rcError("INSTANCE_AMBIGUOUS", "several sites sent an instance with this UID; add ?siteId=", {
          siteIds: found.map((f) => f.study.siteId),
        });
      }
      const { instance } = found[0]!;
      const stream = deps.instances.openRead(instance.sha256);
      await new Promise<void>((resolve, reject) => {
        stream.once("open", () => resolve());
        stream.once("error", reject);
      }).catch((error: unknown) => {
        throw rcError("INSTANCE_FILE_MISSING", "the instance is indexed but its file cannot be read", {
          sopInstanceUid: instance.sopInstanceUid,
          reason: (error as Error).message,
        });
      });
      ctx.res.writeHead(200, {
        "content-type": "application/dicom",
        "content-length": instance.size,
        "content-disposition": `attachment; filename="${instance.sopInstanceUid}.dcm"`,
        "cache-control": "private, max-age=3600",
      });
      await pipeline(stream, ctx.res).catch((error: unknown) => {
        // Usually the viewer went away mid-download; nothing to answer any more.
        log.debug(
          { sopInstanceUid: instance.sopInstanceUid, reason: (error as Error).message },
          "download ended early",
        );
      });
      return undefined;
    }),
  );

  // Previews are served for a stored study and for one whose data is still on its way (only its
  // previews arrived yet); see resolvePreviewSite.
  const previewKeyOf = (ctx: RequestContext) => {
    const studyInstanceUid = ctx.params.uid!;
    const siteId = resolvePreviewSite(studies, previews, studyInstanceUid, ctx.query.get("siteId"));
    return { siteId, studyInstanceUid };
  };

  router.add(
    "GET",
    "/api/studies/:uid/previews",
    authed((ctx) => previews.list(previewKeyOf(ctx)).map(previewItem)),
  );

  router.add(
    "GET",
    "/api/studies/:uid/previews/:previewId",
    authed(async (ctx) => {
      const key = previewKeyOf(ctx);
      const record = previews.get(key, ctx.params.previewId!);
      if (!record) {
        throw rcError("PREVIEW_NOT_FOUND", "the study has no preview with this id", {
          studyInstanceUid: key.studyInstanceUid,
          previewId: ctx.params.previewId,
        });
      }
      const etag = `"${record.sha256}"`;
      const headers = {
        etag,
        // Revalidate every time: a box may replace a preview under the same id.
        "cache-control": "private, no-cache",
        // The bytes were checked to be of this type; never let a browser guess another, and never
        // let an SVG opened on its own run script or fetch anything.
        "x-content-type-options": "nosniff",
        "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox",
      };
      if (ifNoneMatch(ctx.req.headers["if-none-match"], etag)) {
        ctx.res.writeHead(304, headers);
        ctx.res.end();
        return undefined;
      }
      let bytes: Buffer;
      try {
        bytes = await previews.read(record);
      } catch (error) {
        throw rcError("PREVIEW_FILE_MISSING", "the preview is indexed but its file cannot be read", {
          previewId: record.previewId,
          reason: (error as Error).message,
        });
      }
      ctx.res.writeHead(200, {
        ...headers,
        "content-type": record.mediaType,
        "content-length": bytes.length,
        "content-disposition": `inline; filename="${record.previewId}${EXTENSIONS[record.mediaType]}"`,
      });
      ctx.res.end(bytes);
      return undefined;
    }),
  );

  router.add(
    "GET",
    "/api/arriving",
    authed(() => arriving(studies, previews)),
  );

  // Each box's last status (receiver/box-status.ts BoxStatus): online, stale, lastSeen, offlineSince,
  // and its upload queue (queueDepth, queueBytes, queueStat, oldestQueuedAt, uploading).
  router.add(
    "GET",
    "/api/boxes",
    authed(() => deps.boxes.list()),
  );

  return router;
}

const EXTENSIONS: Readonly<Record<PreviewRecord["mediaType"], string>> = {
  "image/png": ".png",
  "image/jpeg": ".jpg",
  "image/svg+xml": ".svg",
};

/** A preview as the API lists it (the key fields are the request's). */
function previewItem(record: PreviewRecord) {
  const { siteId: _site, studyInstanceUid: _study, ...item } = record;
  return item;
}

function ifNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((tag) => {
    const t = tag.trim();
    return t === "*" || t === etag || t === `W/${etag}`;
  });
}
