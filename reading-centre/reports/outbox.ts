/**
 * Report delivery to the boxes. The outbox is the study index itself: a study whose report has no
 * `deliveredAt` is waiting, so a report and its delivery obligation are written in one durable save
 * and survive a restart together. Each waiting report is published (QoS 1) to its site's
 * `down/report`, re-sent every `retryMs` (unless the box's status says it is offline) and at once
 * when the box comes online or the receiver reconnects, until the box's `report-ack` arrives.
 *
 * MQTT QoS 1 alone would not do: the broker's session state for a box is not durable, and a PUBACK
 * says the broker has it, not that the box stored it. Only the box's report-ack ends the obligation.
 */
import type { Logger } from "../../common/logger.ts";
import { decodeJsonMessage, type ReportMessage, type SiteAddress } from "../../uploader/protocol/index.ts";
import type { DownlinkPublisher, UpHandler } from "../receiver/context.ts";
import type { StudyStore } from "../store/study-store.ts";
import type { StudyRecord } from "../store/types.ts";

export interface ReportOutboxOptions {
  countyId: string;
  studies: StudyStore;
  retryMs: number;
  /** True when the site's last status said offline: timed resends wait for it to come back. */
  isOffline: (siteId: string) => boolean;
  log: Logger;
}

export class ReportOutbox {
  readonly #options: ReportOutboxOptions;
  readonly #log: Logger;
  /** Waiting report id → when it was last handed to the broker (0: not yet). */
  readonly #lastSent = new Map<string, number>();
  #downlink: DownlinkPublisher | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: ReportOutboxOptions) {
    this.#options = options;
    this.#log = options.log;
    for (const study of options.studies.all()) {
      if (study.report && study.report.deliveredAt === null) this.#lastSent.set(study.report.reportId, 0);
    }
  }

  get pending(): number {
    return this.#lastSent.size;
  }

  start(downlink: DownlinkPublisher): void {
    this.#downlink = downlink;
    if (this.#lastSent.size > 0)
      this.#log.info({ pending: this.#lastSent.size }, "reports waiting for delivery");
    const tick = Math.min(this.#options.retryMs, 1000);
    this.#timer = setInterval(() => this.flush(), tick);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#downlink = undefined;
  }

  /** A report was just stored durably on `study`: send it now. */
  enqueue(study: StudyRecord): void {
    if (!study.report || study.report.deliveredAt !== null) return;
    this.#lastSent.set(study.report.reportId, 0);
    this.#send(study);
  }

  /** Send what is due: everything when `force` (a reconnect), else what waited `retryMs`. */
  flush(options: { siteId?: string; force?: boolean } = {}): void {
    const now = Date.now();
    for (const [reportId, lastSent] of this.#lastSent) {
      const study = this.#options.studies.findByReportId(reportId);
      if (!study?.report || study.report.deliveredAt !== null) {
        this.#lastSent.delete(reportId);
        continue;
      }
      if (options.siteId !== undefined && study.siteId !== options.siteId) continue;
      if (options.force) this.#send(study);
      // A box known to be offline would only find copies piling up in its broker session.
      else if (now - lastSent >= this.#options.retryMs && !this.#options.isOffline(study.siteId))
        this.#send(study);
    }
  }

  /** `up/report-ack` handler. */
  ackHandler(): UpHandler {
    return async (site, payload) => {
      const ack = decodeJsonMessage(payload, "report-ack");
      const study = this.#options.studies.findByReportId(ack.reportId);
      const fields = { siteId: site.siteId, reportId: ack.reportId, studyInstanceUid: ack.studyInstanceUid };
      if (study?.report && study.siteId !== site.siteId) {
        // A box acknowledging another site's report: never let it end that site's delivery.
        this.#log.warn({ ...fields, code: "CROSS_SITE", otherSiteId: study.siteId }, "report-ack refused");
        return;
      }
      if (!study?.report) {
        this.#log.warn({ ...fields, code: "UNKNOWN_REPORT" }, "report-ack dropped");
        return;
      }
      if (ack.status !== "ok") {
        // The box could not store it (disk full, say); keep retrying until it can.
        this.#log.warn({ ...fields, code: ack.error?.code }, "box refused report, will retry");
        return;
      }
      if (study.report.deliveredAt === null) {
        study.report.deliveredAt = new Date().toISOString();
        await this.#options.studies.save(study);
        this.#log.info(fields, "report delivered");
      }
      this.#lastSent.delete(ack.reportId);
    };
  }

  #send(study: StudyRecord): void {
    const report = study.report!;
    const site: SiteAddress = { countyId: this.#options.countyId, siteId: study.siteId };
    const message: ReportMessage = {
      v: 1,
      type: "report",
      sentAt: new Date().toISOString(),
      reportId: report.reportId,
      studyInstanceUid: study.studyInstanceUid,
      findings: report.findings,
      impression: report.impression,
      critical: report.critical,
      reportedBy: report.reportedBy,
      reportedAt: report.reportedAt,
    };
    if (this.#downlink?.publish(site, "report", message)) {
      const first = this.#lastSent.get(report.reportId) === 0;
      this.#lastSent.set(report.reportId, Date.now());
      this.#log.info({ siteId: study.siteId, reportId: report.reportId, first }, "report sent");
    }
  }
}
