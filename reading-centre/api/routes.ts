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
import type { StudyStore } from "../store/study-store.ts";
import { claimStudy, releaseStudy, resolveStudy, summarize, worklist } from "../worklist/worklist.ts";

export interface ApiDeps {
  users: UserStore;
  tokens: TokenStore;
  studies: StudyStore;
  instances: InstanceStore;
  outbox: ReportOutbox;
  boxes: BoxRegistry;
  log: Logger;
}

export function createApiRouter(deps: ApiDeps): Router {
  const { studies, log } = deps;
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
    authed(({ query }) => worklist(studies, { state: query.get("state") })),
  );

  router.add(
    "GET",
    "/api/studies/:uid",
    authed((ctx) => {
      const study = studyOf(ctx);
      return {
        ...summarize(study),
        studyTime: study.studyTime,
        instances: study.instances,
        report: study.report,
      };
    }),
  );

  router.add(
    "POST",
    "/api/studies/:uid/claim",
    authed(async (ctx, session) => summarize(await claimStudy(studies, studyOf(ctx), session.username))),
  );

  router.add(
    "POST",
    "/api/studies/:uid/release",
    authed(async (ctx, session) => summarize(await releaseStudy(studies, studyOf(ctx), session.username))),
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

  router.add(
    "GET",
    "/api/boxes",
    authed(() => deps.boxes.list()),
  );

  return router;
}
