/**
 * Reports coming down from the reading centre. A report is acknowledged only after the inbox has it
 * on disk; until then the reading centre keeps re-sending it, so a crash between receipt and storage
 * loses nothing. Re-sent duplicates are stored once (the inbox is idempotent) and acknowledged again,
 * since the earlier report-ack may be the thing that was lost.
 */
import type { Logger } from "../common/logger.ts";
import { describeError } from "./errors.ts";
import {
  decodeJsonMessage,
  encodeJsonMessage,
  type ReportAckMessage,
  type ReportMessage,
  type SiteAddress,
  upTopic,
} from "./protocol/index.ts";
import type { Publisher } from "./session.ts";
import type { ReportInbox } from "./types.ts";

export interface ReportReceiverOptions {
  session: Publisher;
  site: SiteAddress;
  inbox: ReportInbox;
  log: Logger;
}

export class ReportReceiver {
  readonly #options: ReportReceiverOptions;
  readonly #ackTopic: string;

  constructor(options: ReportReceiverOptions) {
    this.#options = options;
    this.#ackTopic = upTopic(options.site, "report-ack");
  }

  /** Handle one payload from `down/report`. Never throws: every outcome is logged. */
  async handle(payload: Buffer): Promise<void> {
    const { inbox, session, log } = this.#options;
    let report: ReportMessage;
    try {
      report = decodeJsonMessage(payload, "report");
    } catch (error) {
      // Not acked: nothing in it can be trusted, not even a reportId to ack. The codec's messages
      // name a schema path, never a value, so they are safe to log.
      const { code, message } = describeError(error);
      log.warn({ code, error: message, bytes: payload.length }, "dropped an invalid report");
      return;
    }
    // UIDs and flags only: findings and impression are patient data.
    const about = {
      reportId: report.reportId,
      studyInstanceUid: report.studyInstanceUid,
      critical: report.critical,
    };
    try {
      await inbox.accept(report);
    } catch (error) {
      log.error(
        { ...about, error: describeError(error).message },
        "report inbox refused a report; not acknowledged",
      );
      return;
    }
    const ack: ReportAckMessage = {
      v: 1,
      type: "report-ack",
      sentAt: new Date().toISOString(),
      reportId: report.reportId,
      studyInstanceUid: report.studyInstanceUid,
      status: "ok",
    };
    try {
      await session.publish(this.#ackTopic, encodeJsonMessage(ack));
      log.info(about, "report stored and acknowledged");
    } catch (error) {
      // Stored but not acked: the reading centre re-sends, the inbox dedupes, and we ack then.
      log.warn({ ...about, error: describeError(error).message }, "report stored; acknowledgement not sent");
    }
  }
}
